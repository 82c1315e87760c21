package store

import "database/sql"

type Repo struct {
	db *sql.DB
}

func (r *Repo) Save(id string, body []byte) error {
	_, err := r.db.Exec("INSERT INTO docs(id, body) VALUES(?, ?)", id, body)
	if err != nil {
		return err
	}
	return nil
}

func (r *Repo) Touch(id string) error {
	_, err := r.db.Exec("UPDATE docs SET seen = 1 WHERE id = ?", id)
	if err != nil {
		return err
	}
	return nil
}

package store

const schema = `
CREATE TABLE docs (
  id   TEXT PRIMARY KEY,
  body BLOB NOT NULL
);
`

func Schema() string {
	return schema
}

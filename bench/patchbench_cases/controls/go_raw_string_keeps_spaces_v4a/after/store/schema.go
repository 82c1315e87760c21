package store

const schema = `
CREATE TABLE docs (
  id   TEXT PRIMARY KEY,
  body BLOB NOT NULL,
  seen INTEGER NOT NULL DEFAULT 0
);
`

func Schema() string {
	return schema
}

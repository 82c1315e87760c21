package server

import (
	"encoding/json"
	"errors"
	"log"
	"net/http"
	"sync"
	"time"
)

// Store keeps items in memory, guarded by a mutex.
type Store struct {
	mu    sync.RWMutex
	items map[string]Item
}

// Item is one stored record.
type Item struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

var ErrNotFound = errors.New("item not found")

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{items: make(map[string]Item)}
}

// Get returns the item with the given id.
func (s *Store) Get(id string) (Item, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	item, ok := s.items[id]
	if !ok {
		return Item{}, ErrNotFound
	}
	return item, nil
}

// Put stores an item, replacing any item with the same id.
func (s *Store) Put(item Item) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if item.CreatedAt.IsZero() {
		item.CreatedAt = time.Now()
	}
	s.items[item.ID] = item
}

// Handler serves GET /items/{id}.
func (s *Store) Handler(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Path[len("/items/"):]
	item, err := s.Get(id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(item); err != nil {
		log.Printf("encode %s: %v", id, err)
	}
}

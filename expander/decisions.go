package expander

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
)

// DecisionLog keeps the last decisions for /debug/decisions.
type DecisionLog struct {
	mu   sync.Mutex
	ring []*Decision
	next int
	full bool
}

// NewDecisionLog returns a log that keeps the last size decisions; size 0
// keeps none.
func NewDecisionLog(size int) *DecisionLog {
	return &DecisionLog{ring: make([]*Decision, size)}
}

// Add records a decision, dropping the oldest when full.
func (l *DecisionLog) Add(d *Decision) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ring) == 0 {
		return
	}
	l.ring[l.next] = d
	l.next = (l.next + 1) % len(l.ring)
	if l.next == 0 {
		l.full = true
	}
}

// Recent returns up to n decisions, newest first.
func (l *DecisionLog) Recent(n int) []*Decision {
	l.mu.Lock()
	defer l.mu.Unlock()
	count := l.next
	if l.full {
		count = len(l.ring)
	}
	n = min(n, count)
	out := make([]*Decision, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, l.ring[(l.next-i+len(l.ring))%len(l.ring)])
	}
	return out
}

// ServeHTTP writes the recent decisions as a JSON array, newest first;
// ?limit=N returns at most N.
func (l *DecisionLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := len(l.ring)
	if s := r.URL.Query().Get("limit"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			http.Error(w, "limit must be a non-negative integer", http.StatusBadRequest)
			return
		}
		n = v
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(l.Recent(n))
}

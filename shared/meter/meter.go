// Package meter counts what one request (or one stream batch) costs in DynamoDB:
// round trips and consumed capacity units. The store adds to it on every call; the
// API's middleware logs it. It imports nothing from AWS, so a function that makes no
// DynamoDB call (the docs) links no DynamoDB code for its request log.
package meter

import (
	"context"
	"sync"
)

// Meter counts one request's DynamoDB round trips and consumed capacity units.
type Meter struct {
	mu         sync.Mutex
	Calls      map[string]int
	ReadUnits  float64
	WriteUnits float64
	// Overlapped counts the calls made while another of the same request was in
	// flight (a sharded list's parallel Queries): they add to Calls, not to the time
	// the request waits in sequence (Sequential).
	Overlapped int
}

type key struct{}

// With attaches a fresh Meter to ctx.
func With(ctx context.Context) (context.Context, *Meter) {
	m := &Meter{Calls: map[string]int{}}
	return context.WithValue(ctx, key{}, m), m
}

// From returns ctx's Meter, or a throwaway one.
func From(ctx context.Context) *Meter {
	if m, ok := ctx.Value(key{}).(*Meter); ok {
		return m
	}
	return &Meter{Calls: map[string]int{}}
}

// Add counts one call of op that consumed read and write units.
func (m *Meter) Add(op string, read, write float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Calls[op]++
	m.ReadUnits += read
	m.WriteUnits += write
}

// RoundTrips is the number of calls made so far.
func (m *Meter) RoundTrips() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, c := range m.Calls {
		n += c
	}
	return n
}

// Overlap records that n of the calls just counted ran beside another one.
func (m *Meter) Overlap(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Overlapped += n
}

// Sequential is the number of round trips made one after another so far: the calls
// less those that overlapped another.
func (m *Meter) Sequential() int {
	n := m.RoundTrips()
	m.mu.Lock()
	defer m.mu.Unlock()
	return n - m.Overlapped
}

// Units returns the read and write capacity units consumed so far.
func (m *Meter) Units() (read, write float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ReadUnits, m.WriteUnits
}

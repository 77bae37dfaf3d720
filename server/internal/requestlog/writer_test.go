package requestlog

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authproxy/authproxy/server/internal/labels"
	"github.com/authproxy/authproxy/server/internal/store"
)

func testDB(t *testing.T) *gorm.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{Driver: store.SQLite, DSN: filepath.Join(t.TempDir(), "db.sqlite")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s, err := db.DB(); err == nil {
			_ = s.Close()
		}
	})
	if _, err := store.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	return db
}

// countInserts counts INSERT statements into request_logs.
func countInserts(t *testing.T, db *gorm.DB) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	err := db.Callback().Create().After("gorm:create").Register("test:count_request_logs", func(tx *gorm.DB) {
		if tx.Statement.Table == "request_logs" && tx.Error == nil {
			n.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return &n
}

func rows(t *testing.T, db *gorm.DB) int64 {
	t.Helper()
	var n int64
	if err := db.Table("request_logs").Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func entry(i int) Entry {
	return Entry{Namespace: "root", ConnectionID: "cxn_a", ConnectorID: "cxr_a", ConnectorVersion: 1, Method: "GET",
		URL: fmt.Sprintf("https://x.test/%d", i), Status: 200, Duration: time.Millisecond, Labels: map[string]string{"n": fmt.Sprint(i % 2)}}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWriterFlushesInBatches(t *testing.T) {
	db := testDB(t)
	inserts := countInserts(t, db)
	w := NewWriter(db, Options{BatchSize: 3, Interval: time.Hour})
	for i := 0; i < 7; i++ {
		w.Record(entry(i))
	}
	if rows(t, db) != 0 {
		t.Fatal("Record wrote synchronously")
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, db); got != 7 {
		t.Fatalf("%d rows, want 7", got)
	}
	if got := inserts.Load(); got != 3 {
		t.Fatalf("%d INSERTs for 7 entries in batches of 3, want 3", got)
	}
	if s := w.Stats(); s != (Stats{Recorded: 7, Flushed: 7}) {
		t.Fatalf("stats %+v", s)
	}
}

func TestWriterFlushesInBackground(t *testing.T) {
	t.Run("full batch", func(t *testing.T) {
		db := testDB(t)
		w := NewWriter(db, Options{BatchSize: 5, Interval: time.Hour})
		w.Start()
		defer w.Close(context.Background())
		for i := 0; i < 5; i++ {
			w.Record(entry(i))
		}
		eventually(t, "a full batch to be written", func() bool { return rows(t, db) == 5 })
	})
	t.Run("interval", func(t *testing.T) {
		db := testDB(t)
		w := NewWriter(db, Options{BatchSize: 500, Interval: 20 * time.Millisecond})
		w.Start()
		defer w.Close(context.Background())
		w.Record(entry(1))
		eventually(t, "the interval flush", func() bool { return rows(t, db) == 1 })
	})
}

func TestWriterDropsWhenFull(t *testing.T) {
	db := testDB(t)
	w := NewWriter(db, Options{BufferSize: 4, BatchSize: 2, Interval: time.Hour})
	for i := 0; i < 6; i++ {
		w.Record(entry(i))
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := w.Stats(); s != (Stats{Recorded: 4, Flushed: 4, Dropped: 2}) {
		t.Fatalf("stats %+v", s)
	}
	if got := rows(t, db); got != 4 {
		t.Fatalf("%d rows, want 4", got)
	}
}

func TestWriterCountsAndLogsAFailedBatch(t *testing.T) {
	db := testDB(t)
	var logs bytes.Buffer
	w := NewWriter(db, Options{BatchSize: 2, Interval: time.Hour, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := db.Exec("DROP TABLE request_logs").Error; err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		e := entry(i)
		e.URL = "https://x.test/?api_key=" + Redacted
		w.Record(e)
	}
	if err := w.Flush(context.Background()); err == nil {
		t.Fatal("Flush into a missing table succeeded")
	}
	if s := w.Stats(); s != (Stats{Recorded: 3, FailedBatches: 2, Lost: 3}) {
		t.Fatalf("stats %+v", s)
	}
	out := logs.String()
	if n := strings.Count(out, "request log batch lost"); n != 2 {
		t.Fatalf("%d log lines for 2 failed batches:\n%s", n, out)
	}
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "entries=2") || !strings.Contains(out, "entries=1") {
		t.Fatalf("log does not say how many entries were lost:\n%s", out)
	}
	if strings.Contains(out, "x.test") {
		t.Fatalf("log holds a URL:\n%s", out)
	}
	// Nothing stays buffered: the next flush has nothing to do.
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestWriterCloseFlushesAndThenDrops(t *testing.T) {
	db := testDB(t)
	w := NewWriter(db, Options{Interval: time.Hour})
	w.Start()
	w.Record(entry(1))
	w.Record(entry(2))
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, db); got != 2 {
		t.Fatalf("%d rows after Close, want 2", got)
	}
	w.Record(entry(3))
	if s := w.Stats(); s.Dropped != 1 || s.Flushed != 2 {
		t.Fatalf("stats after Close %+v", s)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestWriterConcurrentRecords(t *testing.T) {
	db := testDB(t)
	w := NewWriter(db, Options{BufferSize: 1000, BatchSize: 100, Interval: 5 * time.Millisecond})
	w.Start()
	const goroutines, each = 8, 400
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				w.Record(entry(i))
			}
		}()
	}
	wg.Wait()
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := w.Stats()
	if s.Recorded+s.Dropped != goroutines*each || s.Flushed != s.Recorded || s.FailedBatches != 0 {
		t.Fatalf("stats %+v", s)
	}
	if got := rows(t, db); got != int64(s.Flushed) {
		t.Fatalf("%d rows, %d flushed", got, s.Flushed)
	}
}

func TestListOrderFiltersAndPaging(t *testing.T) {
	db := testDB(t)
	w := NewWriter(db, Options{BatchSize: 4, Interval: time.Hour})
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	var ids []string
	for i := 0; i < 10; i++ {
		e := entry(i)
		e.Time = base.Add(time.Duration(i) * time.Second)
		e.ID = NewID(e.Time)
		e.Status = 200 + i*10
		if i >= 5 {
			e.Namespace, e.ConnectionID = "root.t", "cxn_b"
		}
		ids = append(ids, e.ID)
		w.Record(e)
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := &Service{DB: db}
	ctx := context.Background()
	list := func(o store.ListOptions, f Filter) []string {
		t.Helper()
		var out []string
		for {
			page, next, err := s.List(ctx, o, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page {
				out = append(out, e.ID)
			}
			if next == "" {
				return out
			}
			o.Page.Cursor = next
		}
	}
	rev := func(xs ...string) string {
		out := make([]string, len(xs))
		for i, x := range xs {
			out[len(xs)-1-i] = x
		}
		return strings.Join(out, ",")
	}
	all := store.Scope{All: true}
	if got := list(store.ListOptions{Scope: all, Page: store.Page{Limit: 3}}, Filter{}); strings.Join(got, ",") != rev(ids...) {
		t.Fatalf("paged newest first:\n%v\nwant %v", got, rev(ids...))
	}
	if got := list(store.ListOptions{Scope: all}, Filter{ConnectionID: "cxn_b"}); strings.Join(got, ",") != rev(ids[5:]...) {
		t.Fatalf("connection filter: %v", got)
	}
	lo, hi := 230, 260
	if got := list(store.ListOptions{Scope: all, Page: store.Page{Limit: 2}}, Filter{StatusMin: &lo, StatusMax: &hi}); strings.Join(got, ",") != rev(ids[3:7]...) {
		t.Fatalf("status range: %v", got)
	}
	if got := list(store.ListOptions{Scope: all}, Filter{Since: base.Add(2 * time.Second), Until: base.Add(4 * time.Second)}); strings.Join(got, ",") != rev(ids[2:4]...) {
		t.Fatalf("time range: %v", got)
	}
	sel, err := labels.ParseSelector("n=1")
	if err != nil {
		t.Fatal(err)
	}
	if got := list(store.ListOptions{Scope: all, Selector: sel}, Filter{}); strings.Join(got, ",") != rev(ids[1], ids[3], ids[5], ids[7], ids[9]) {
		t.Fatalf("label selector: %v", got)
	}
	tenant := store.Scope{Rules: []store.ScopeRule{{Namespace: "root.t", Subtree: true}}}
	if got := list(store.ListOptions{Scope: tenant}, Filter{}); strings.Join(got, ",") != rev(ids[5:]...) {
		t.Fatalf("scope: %v", got)
	}
	if got := list(store.ListOptions{Scope: store.Scope{}}, Filter{}); len(got) != 0 {
		t.Fatalf("empty scope sees %v", got)
	}
	if _, _, err := s.List(ctx, store.ListOptions{Scope: all, Page: store.Page{Cursor: "!!"}}, Filter{}); err == nil {
		t.Fatal("a bad cursor was accepted")
	}
	e, err := s.Get(ctx, ids[3])
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != 230 || e.URL != "https://x.test/3" || e.Labels["n"] != "1" || !e.Time.Equal(base.Add(3*time.Second)) || e.Duration != time.Millisecond {
		t.Fatalf("entry %+v", e)
	}
	if _, err := s.Get(ctx, "rlg_missing"); err == nil {
		t.Fatal("a missing entry was found")
	}
}

func benchDB(b *testing.B) *gorm.DB {
	db, err := store.Open(context.Background(), store.Config{Driver: store.SQLite, DSN: filepath.Join(b.TempDir(), "db.sqlite")})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := store.Migrate(context.Background(), db); err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchmarkRecord is the cost a proxied call pays for its log entry: the buffer is emptied
// (as a flush of a full batch would) every 500 entries, so nothing is dropped.
func BenchmarkRecord(b *testing.B) {
	w := NewWriter(benchDB(b), Options{Interval: time.Hour})
	e := entry(1)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if i%DefaultBatchSize == 0 {
			w.mu.Lock()
			w.buf = nil
			w.mu.Unlock()
		}
		w.Record(e)
	}
	if s := w.Stats(); s.Dropped != 0 {
		b.Fatalf("stats %+v", s)
	}
}

// BenchmarkFlush is the cost of writing one entry (with one label) in batches of several
// sizes on SQLite.
func BenchmarkFlush(b *testing.B) {
	for _, size := range []int{20, 50, 100, 500} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			w := NewWriter(benchDB(b), Options{BufferSize: b.N + 1, BatchSize: size, Interval: time.Hour})
			for i := 0; i < b.N; i++ {
				w.Record(entry(i))
			}
			b.ResetTimer()
			if err := w.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
	}
}

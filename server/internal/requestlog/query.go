package requestlog

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"gorm.io/gorm"

	"github.com/authproxy/authproxy/server/internal/blob"
	"github.com/authproxy/authproxy/server/internal/encrypt"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/store"
)

type row struct {
	ID                  string    `gorm:"column:id;primaryKey"`
	At                  time.Time `gorm:"column:started_at"`
	Namespace           string    `gorm:"column:namespace"`
	ConnectionID        string    `gorm:"column:connection_id"`
	ConnectorID         string    `gorm:"column:connector_id"`
	ConnectorVersion    int       `gorm:"column:connector_version"`
	ActorID             string    `gorm:"column:actor_id"`
	CorrelationID       string    `gorm:"column:correlation_id"`
	Method              string    `gorm:"column:method"`
	URL                 string    `gorm:"column:url"`
	Status              int       `gorm:"column:status"`
	DurationUS          int64     `gorm:"column:duration_us"`
	RequestSize         int64     `gorm:"column:request_size"`
	ResponseSize        int64     `gorm:"column:response_size"`
	RequestContentType  string    `gorm:"column:request_content_type"`
	ResponseContentType string    `gorm:"column:response_content_type"`
	ErrorClass          string    `gorm:"column:error_class"`
	Kind                string    `gorm:"column:kind"`
	BodiesBlob          *string   `gorm:"column:bodies_blob"`
	BodiesKey           *string   `gorm:"column:bodies_key"`
}

func (row) TableName() string { return "request_logs" }

type labelRow struct {
	ResourceType string `gorm:"column:resource_type"`
	ResourceID   string `gorm:"column:resource_id"`
	LabelKey     string `gorm:"column:label_key"`
	LabelValue   string `gorm:"column:label_value"`
}

func (labelRow) TableName() string { return "labels" }

// maxText bounds the free-text columns a caller influences (content types, method).
const maxText = 255

func clip(s string) string {
	if len(s) > maxText {
		return s[:maxText]
	}
	return s
}

func toRow(e *Entry) row {
	return row{ID: e.ID, At: e.Time, Namespace: e.Namespace, ConnectionID: e.ConnectionID, ConnectorID: e.ConnectorID,
		ConnectorVersion: e.ConnectorVersion, ActorID: e.ActorID, CorrelationID: clip(e.CorrelationID), Method: clip(e.Method),
		URL: e.URL, Status: e.Status, DurationUS: e.Duration.Microseconds(), RequestSize: e.RequestSize,
		ResponseSize: e.ResponseSize, RequestContentType: clip(e.RequestContentType),
		ResponseContentType: clip(e.ResponseContentType), ErrorClass: e.ErrorClass, Kind: kindOf(e.Kind)}
}

func kindOf(k string) string {
	if k == "" {
		return KindProxy
	}
	return k
}

func (r *row) entry(lbls map[string]string) Entry {
	if lbls == nil {
		lbls = map[string]string{}
	}
	return Entry{ID: r.ID, Time: r.At.UTC(), Namespace: r.Namespace, ConnectionID: r.ConnectionID, ConnectorID: r.ConnectorID,
		ConnectorVersion: r.ConnectorVersion, ActorID: r.ActorID, CorrelationID: r.CorrelationID, Method: r.Method,
		URL: r.URL, Status: r.Status, Duration: time.Duration(r.DurationUS) * time.Microsecond, RequestSize: r.RequestSize,
		ResponseSize: r.ResponseSize, RequestContentType: r.RequestContentType, ResponseContentType: r.ResponseContentType,
		ErrorClass: r.ErrorClass, Labels: lbls, Kind: kindOf(r.Kind), BodiesRecorded: r.BodiesKey != nil && r.BodiesBlob != nil}
}

// Service reads the request log.
type Service struct {
	DB *gorm.DB
	// Blobs and Keys read recorded bodies (Bodies); without them there are none to read.
	Blobs blob.Store
	Keys  Sealer
}

// NotFound is the error for a missing (or invisible) entry.
func NotFound() error { return problem.NotFound("request log entry not found") }

// Filter narrows a listing; zero fields do not filter.
type Filter struct {
	ConnectionID string
	ConnectorID  string
	Kind         string
	StatusMin    *int
	StatusMax    *int
	Since        time.Time // inclusive
	Until        time.Time // exclusive
}

// List returns one page of entries, newest first: in o.Namespace when set, within o.Scope,
// matching o.Selector and f; and the cursor of the next page ("" on the last).
func (s *Service) List(ctx context.Context, o store.ListOptions, f Filter) ([]Entry, string, error) {
	q := s.DB.WithContext(ctx).Model(&row{})
	if o.Namespace != "" {
		q = q.Where("namespace = ?", o.Namespace)
	}
	if f.ConnectionID != "" {
		q = q.Where("connection_id = ?", f.ConnectionID)
	}
	if f.ConnectorID != "" {
		q = q.Where("connector_id = ?", f.ConnectorID)
	}
	if f.Kind != "" {
		q = q.Where("kind = ?", f.Kind)
	}
	if f.StatusMin != nil {
		q = q.Where("status >= ?", *f.StatusMin)
	}
	if f.StatusMax != nil {
		q = q.Where("status <= ?", *f.StatusMax)
	}
	// Ids start with their time, so time bounds are id bounds (and use the primary key).
	if !f.Since.IsZero() {
		q = q.Where("id >= ?", idAt(f.Since))
	}
	if !f.Until.IsZero() {
		q = q.Where("id < ?", idAt(f.Until))
	}
	q = store.WhereScope(q, o.Scope, "namespace", "id")
	q = store.WhereSelector(q, LabelKind, "request_logs.id", o.Selector)
	limit := o.Page.Limit
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	if o.Page.Cursor != "" {
		before, err := base64.RawURLEncoding.DecodeString(o.Page.Cursor)
		if err != nil || len(before) == 0 {
			return nil, "", problem.InvalidField("cursor", "%v", store.ErrBadCursor)
		}
		q = q.Where("id < ?", string(before))
	}
	var rows []row
	if err := q.Order("id DESC").Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, "", fmt.Errorf("list request logs: %w", err)
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = store.NextCursor(limit+1, limit, rows[limit-1].ID)
	}
	out, err := s.hydrate(ctx, rows)
	return out, next, err
}

// Get returns one entry.
func (s *Service) Get(ctx context.Context, id string) (*Entry, error) {
	var r row
	err := s.DB.WithContext(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, NotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("get request log %s: %w", id, err)
	}
	out, err := s.hydrate(ctx, []row{r})
	if err != nil {
		return nil, err
	}
	return &out[0], nil
}

func (s *Service) hydrate(ctx context.Context, rows []row) ([]Entry, error) {
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	lbls, err := store.LoadLabels(s.DB.WithContext(ctx), LabelKind, ids)
	if err != nil {
		return nil, fmt.Errorf("request log labels: %w", err)
	}
	out := make([]Entry, len(rows))
	for i := range rows {
		out[i] = rows[i].entry(lbls[rows[i].ID])
	}
	return out, nil
}

// maxBlob bounds a bodies blob read back: two messages of at most the largest body limit,
// base64 and JSON overhead included.
const maxBlob = 64 << 20

// Bodies returns the recorded request and response of entry id. Nothing recorded is 404;
// bodies whose data key can no longer be opened (the namespace's key was destroyed or
// retired) or whose blob is gone are 410 Gone: they existed but cannot be read any more.
func (s *Service) Bodies(ctx context.Context, id string) (*Bodies, error) {
	var r row
	err := s.DB.WithContext(ctx).Select("id", "bodies_blob", "bodies_key").Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, NotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("get request log %s: %w", id, err)
	}
	if r.BodiesKey == nil || r.BodiesBlob == nil {
		return nil, problem.NotFound("request log entry %s has no recorded bodies: the connector's logging.bodies policy did not record this call (or storing them failed)", id)
	}
	if s.Blobs == nil || s.Keys == nil {
		return nil, problem.New(http.StatusServiceUnavailable, "recorded bodies cannot be read: this server has no blob store configured")
	}
	dataKey, err := s.Keys.Open(ctx, BodiesKeyColumn, r.ID, *r.BodiesKey)
	if err != nil {
		if errors.Is(err, encrypt.ErrUnknownKey) || errors.Is(err, encrypt.ErrNotAuthentic) || errors.Is(err, encrypt.ErrMalformed) {
			return nil, problem.New(http.StatusGone, "the recorded bodies of request log entry %s can no longer be read: the key that sealed them was destroyed or retired", id)
		}
		return nil, fmt.Errorf("request log %s: open bodies key: %w", id, err)
	}
	defer clear(dataKey)
	rc, err := s.Blobs.Get(ctx, *r.BodiesBlob)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, problem.New(http.StatusGone, "the recorded bodies of request log entry %s are no longer in the blob store", id)
	}
	if err != nil {
		return nil, fmt.Errorf("request log %s: read bodies: %w", id, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxBlob+1))
	if err != nil {
		return nil, fmt.Errorf("request log %s: read bodies: %w", id, err)
	}
	if len(b) > maxBlob {
		return nil, fmt.Errorf("request log %s: bodies blob larger than %d bytes", id, maxBlob)
	}
	out, err := decryptBodies(r.ID, b, dataKey)
	if errors.Is(err, errNotAuthentic) {
		return nil, problem.New(http.StatusGone, "the recorded bodies of request log entry %s do not decrypt: the blob was altered or replaced", id)
	}
	return out, err
}

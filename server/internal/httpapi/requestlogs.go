package httpapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"unicode/utf8"

	"github.com/authproxy/authproxy/server/internal/api"
	"github.com/authproxy/authproxy/server/internal/authz"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/requestlog"
	"github.com/authproxy/authproxy/server/internal/store"
)

// CorrelationHeader carries the caller's correlation id; without it the request id is used.
const CorrelationHeader = "X-Correlation-Id"

// correlate tells the request log who is calling (the authenticated actor) and the
// correlation id of the call: the caller's X-Correlation-Id when it is a sane token, else
// the request id.
func correlate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := requestlog.Caller{CorrelationID: r.Header.Get(CorrelationHeader)}
		if !saneID(rc.CorrelationID) {
			rc.CorrelationID = RequestID(r.Context())
		}
		if c := CallerFrom(r.Context()); c != nil && c.Principal != nil {
			rc.ActorID = c.Principal.ID
		}
		next.ServeHTTP(w, r.WithContext(requestlog.WithCaller(r.Context(), rc)))
	})
}

func toAPIRequestLog(e *requestlog.Entry) api.RequestLog {
	kind := api.RequestLogKind(e.Kind)
	if kind == "" {
		kind = api.KindProxy
	}
	out := api.RequestLog{Id: e.ID, Kind: kind, BodiesRecorded: e.BodiesRecorded, Time: e.Time, Namespace: e.Namespace, ConnectionId: e.ConnectionID,
		ConnectorId: e.ConnectorID, ConnectorVersion: e.ConnectorVersion, ActorId: e.ActorID, CorrelationId: e.CorrelationID,
		Method: e.Method, Url: e.URL, Status: e.Status, DurationMs: float64(e.Duration.Microseconds()) / 1000,
		RequestSize: e.RequestSize, ResponseSize: e.ResponseSize, Labels: e.Labels}
	if e.RequestContentType != "" {
		out.RequestContentType = &e.RequestContentType
	}
	if e.ResponseContentType != "" {
		out.ResponseContentType = &e.ResponseContentType
	}
	if e.ErrorClass != "" {
		c := api.RequestLogErrorClass(e.ErrorClass)
		out.ErrorClass = &c
	}
	return out
}

// ListRequestLogs implements GET /api/v1/request-logs: newest first, within what the
// caller may list.
func (s *Server) ListRequestLogs(ctx context.Context, req api.ListRequestLogsRequestObject) (api.ListRequestLogsResponseObject, error) {
	p := req.Params
	sel, err := listFilters(p.LabelSelector, "namespace", p.Namespace)
	if err != nil {
		return nil, err
	}
	if p.StatusMin != nil && p.StatusMax != nil && *p.StatusMin > *p.StatusMax {
		return nil, problem.InvalidField("statusMax", "must not be less than statusMin (%d)", *p.StatusMin)
	}
	if p.Since != nil && p.Until != nil && !p.Until.After(*p.Since) {
		return nil, problem.InvalidField("until", "must be after since")
	}
	f := requestlog.Filter{ConnectionID: deref(p.ConnectionId), ConnectorID: deref(p.ConnectorId), StatusMin: p.StatusMin, StatusMax: p.StatusMax}
	if p.Kind != nil {
		f.Kind = string(*p.Kind)
	}
	if p.Since != nil {
		f.Since = *p.Since
	}
	if p.Until != nil {
		f.Until = *p.Until
	}
	items, next, err := s.requestLogs.List(ctx, store.ListOptions{
		Namespace: deref(p.Namespace), Selector: sel, Scope: scope(ctx, authz.ResourceRequestLogs), Page: page(p.Limit, p.Cursor),
	}, f)
	if err != nil {
		return nil, err
	}
	out := api.ListRequestLogs200JSONResponse{Items: make([]api.RequestLog, 0, len(items))}
	for i := range items {
		out.Items = append(out.Items, toAPIRequestLog(&items[i]))
	}
	if next != "" {
		out.NextCursor = &next
	}
	return out, nil
}

// GetRequestLog implements GET /api/v1/request-logs/{id}; an entry the caller may not see
// is reported exactly like a missing one.
func (s *Server) GetRequestLog(ctx context.Context, req api.GetRequestLogRequestObject) (api.GetRequestLogResponseObject, error) {
	e, err := s.requestLogs.Get(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	if err := authorize(ctx, e.Namespace, authz.ResourceRequestLogs, authz.VerbGet, e.ID, requestlog.NotFound()); err != nil {
		return nil, err
	}
	return api.GetRequestLog200JSONResponse(toAPIRequestLog(e)), nil
}

// GetRequestLogBodies implements GET /api/v1/request-logs/{id}/bodies (request_logs:get):
// an entry the caller may not see is 404 like a missing one; an entry with nothing recorded
// is 404 saying so; bodies that can no longer be decrypted (the namespace's key was
// destroyed) or whose blob is gone are 410.
func (s *Server) GetRequestLogBodies(ctx context.Context, req api.GetRequestLogBodiesRequestObject) (api.GetRequestLogBodiesResponseObject, error) {
	e, err := s.requestLogs.Get(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	if err := authorize(ctx, e.Namespace, authz.ResourceRequestLogs, authz.VerbGet, e.ID, requestlog.NotFound()); err != nil {
		return nil, err
	}
	b, err := s.requestLogs.Bodies(ctx, e.ID)
	if err != nil {
		return nil, err
	}
	reqMsg, respMsg := toAPIRecordedMessage(&b.Request), toAPIRecordedMessage(&b.Response)
	return api.GetRequestLogBodies200JSONResponse{Request: &reqMsg, Response: &respMsg}, nil
}

// utf8Text is b as text when it is UTF-8; a truncated b may end in the first bytes of a
// character the limit cut, which are dropped.
func utf8Text(b []byte, truncated bool) (string, bool) {
	if utf8.Valid(b) {
		return string(b), true
	}
	if truncated {
		for k := 1; k <= utf8.UTFMax-1 && k < len(b); k++ {
			head, tail := b[:len(b)-k], b[len(b)-k:]
			if utf8.RuneStart(tail[0]) && !utf8.FullRune(tail) && utf8.Valid(head) {
				return string(head), true
			}
		}
	}
	return "", false
}

// toAPIRecordedMessage renders a recorded message: a UTF-8 body as text, any other as
// base64. A body that was not stored (it had to be redacted and could not be parsed) is
// empty, and omitted says why.
func toAPIRecordedMessage(m *requestlog.Message) api.RecordedMessage {
	h := map[string][]string{}
	for k, vs := range m.Header {
		h[k] = vs
	}
	out := api.RecordedMessage{Headers: h, Size: m.Size, Truncated: m.Truncated, Encoding: api.EncodingText}
	if m.Omitted != "" {
		out.Omitted = &m.Omitted
	}
	if text, ok := utf8Text(m.Body, m.Truncated); ok {
		out.Body = text
	} else {
		out.Encoding = api.EncodingBase64
		out.Body = base64.StdEncoding.EncodeToString(m.Body)
	}
	return out
}

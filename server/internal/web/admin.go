package web

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hibiken/asynq"

	"github.com/authproxy/authproxy/server/internal/authz"
	"github.com/authproxy/authproxy/server/internal/connection"
	"github.com/authproxy/authproxy/server/internal/connector"
	"github.com/authproxy/authproxy/server/internal/keys"
	"github.com/authproxy/authproxy/server/internal/namespace"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/requestlog"
	"github.com/authproxy/authproxy/server/internal/store"
)

// Admin is what the admin pages read. Every page shows only what the signed-in operator's
// own permissions let it list or get, exactly as the API would.
type Admin struct {
	Namespaces  *namespace.Service
	Keys        *keys.Service
	RequestLogs *requestlog.Service
	// Queues inspects the asynq queues; nil hides the queues page's content.
	Queues *asynq.Inspector
}

// RegisterAdmin adds the admin pages to the admin service's mux.
func (s *Site) RegisterAdmin(mux *http.ServeMux, a *Admin) {
	rl := adminRealm
	mux.HandleFunc("GET "+rl.base, s.handoff(rl))
	mux.HandleFunc("POST "+rl.base, s.handoff(rl))
	mux.Handle("GET "+rl.base+"/static/", s.static(rl.base+"/static/"))
	mux.HandleFunc("GET "+rl.base+"/{$}", s.signedIn(rl, s.operator(a, a.namespaceTree)))
	mux.HandleFunc("GET "+rl.base+"/connectors", s.signedIn(rl, s.operator(a, a.connectors(s))))
	mux.HandleFunc("GET "+rl.base+"/connections", s.signedIn(rl, s.operator(a, a.connections(s))))
	mux.HandleFunc("GET "+rl.base+"/request-logs", s.signedIn(rl, s.operator(a, a.requestLogs)))
	mux.HandleFunc("GET "+rl.base+"/request-logs/{id}", s.signedIn(rl, s.operator(a, a.requestLog)))
	mux.HandleFunc("GET "+rl.base+"/encryption", s.signedIn(rl, s.operator(a, a.encryption)))
	mux.HandleFunc("GET "+rl.base+"/queues", s.signedIn(rl, s.operator(a, a.queues)))
	mux.HandleFunc("POST "+rl.base+"/signout", s.signOut(rl))
}

// adminView is one admin page: it gets the operator's permissions and returns the page's
// title, template and data (or an error, shown without its details).
type adminView func(ctx context.Context, op authz.Set, r *http.Request) (title, tmpl string, data any, err error)

// operator loads the signed-in actor's current permissions (a change takes effect on the
// next page) and renders the view.
func (s *Site) operator(a *Admin, v adminView) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := sessionFrom(r.Context())
		// The operator's current permissions, as signedIn read them for this request.
		act := actorFrom(r.Context())
		op := authz.Compile(authz.Clamp(act.Namespace, act.Permissions))
		title, tmpl, data, err := v(r.Context(), op, r)
		if errors.Is(err, errPageNotFound) {
			s.render(w, r, http.StatusNotFound, "message", page{Title: "Not found", Base: adminBase, Session: sess,
				Data: "There is no such entry, or you may not see it."})
			return
		}
		if err != nil {
			s.failed(w, r, adminBase, err)
			return
		}
		s.render(w, r, http.StatusOK, tmpl, page{Title: title, Base: adminBase, Session: sess, Data: data})
	}
}

// errPageNotFound is what a view returns for a resource that does not exist or that the
// operator may not see (the same answer, as in the API).
var errPageNotFound = errors.New("web: not found")

// all pages through a list until its end (admin views show at most limit items).
func all[T any](limit int, list func(store.Page) ([]T, string, error)) ([]T, bool, error) {
	var out []T
	p := store.Page{Limit: 200}
	for {
		items, next, err := list(p)
		if err != nil {
			return nil, false, err
		}
		out = append(out, items...)
		if len(out) >= limit {
			return out[:limit], true, nil
		}
		if next == "" {
			return out, false, nil
		}
		p.Cursor = next
	}
}

// treeNode is a namespace in the tree view.
type treeNode struct {
	Path     string
	Name     string
	Labels   map[string]string
	Children []*treeNode
}

type treeData struct {
	Roots     []*treeNode
	Truncated bool
}

func (a *Admin) namespaceTree(ctx context.Context, op authz.Set, _ *http.Request) (string, string, any, error) {
	nss, truncated, err := all(2000, func(p store.Page) ([]namespace.Namespace, string, error) {
		return a.Namespaces.List(ctx, namespace.ListOptions{Scope: op.Scope(authz.ResourceNamespaces, authz.VerbList).Query(), Page: p})
	})
	if err != nil {
		return "", "", nil, err
	}
	nodes := map[string]*treeNode{}
	for _, n := range nss {
		name := n.Path
		if i := strings.LastIndexByte(n.Path, '.'); i >= 0 {
			name = n.Path[i+1:]
		}
		nodes[n.Path] = &treeNode{Path: n.Path, Name: name, Labels: n.Labels}
	}
	var d treeData
	d.Truncated = truncated
	paths := make([]string, 0, len(nodes))
	for p := range nodes {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		n := nodes[p]
		// Attach to the nearest visible ancestor; a namespace whose parents are hidden is a root.
		attached := false
		for q, ok := namespace.Parent(p); ok; q, ok = namespace.Parent(q) {
			if parent := nodes[q]; parent != nil {
				parent.Children = append(parent.Children, n)
				attached = true
				break
			}
		}
		if !attached {
			d.Roots = append(d.Roots, n)
		}
	}
	return "Namespaces", "admin-namespaces", d, nil
}

type connectorRow struct {
	Connector connector.Connector
	Versions  []connector.Version
}

func (a *Admin) connectors(s *Site) adminView {
	return func(ctx context.Context, op authz.Set, _ *http.Request) (string, string, any, error) {
		cs, truncated, err := all(500, func(p store.Page) ([]connector.Connector, string, error) {
			return s.Connectors.List(ctx, store.ListOptions{Scope: op.Scope(authz.ResourceConnectors, authz.VerbList).Query(), Page: p})
		})
		if err != nil {
			return "", "", nil, err
		}
		rows := make([]connectorRow, 0, len(cs))
		for _, c := range cs {
			vs, err := s.Connectors.ListVersions(ctx, c.ID, "")
			if err != nil {
				return "", "", nil, err
			}
			rows = append(rows, connectorRow{Connector: c, Versions: vs})
		}
		return "Connectors", "admin-connectors", struct {
			Rows      []connectorRow
			Truncated bool
		}{rows, truncated}, nil
	}
}

func (a *Admin) connections(s *Site) adminView {
	return func(ctx context.Context, op authz.Set, r *http.Request) (string, string, any, error) {
		q := r.URL.Query()
		f := connection.Filter{ConnectorID: q.Get("connectorId"), State: q.Get("state"), Health: q.Get("health")}
		cs, truncated, err := all(500, func(p store.Page) ([]connection.Connection, string, error) {
			return s.Connections.List(ctx, store.ListOptions{Scope: op.Scope(authz.ResourceConnections, authz.VerbList).Query(), Page: p}, f)
		})
		if err != nil {
			return "", "", nil, err
		}
		return "Connections", "admin-connections", struct {
			Filter    connection.Filter
			Rows      []connection.Connection
			Truncated bool
		}{f, cs, truncated}, nil
	}
}

type logFilter struct {
	ConnectionID, ConnectorID, Kind, StatusMin, StatusMax, Cursor string
}

func (a *Admin) requestLogs(ctx context.Context, op authz.Set, r *http.Request) (string, string, any, error) {
	q := r.URL.Query()
	lf := logFilter{ConnectionID: q.Get("connectionId"), ConnectorID: q.Get("connectorId"), Kind: q.Get("kind"),
		StatusMin: q.Get("statusMin"), StatusMax: q.Get("statusMax"), Cursor: q.Get("cursor")}
	f := requestlog.Filter{ConnectionID: lf.ConnectionID, ConnectorID: lf.ConnectorID, Kind: lf.Kind}
	var problems []string
	if v, err := strconv.Atoi(lf.StatusMin); lf.StatusMin != "" && err == nil {
		f.StatusMin = &v
	} else if lf.StatusMin != "" {
		problems = append(problems, "status from must be a number")
	}
	if v, err := strconv.Atoi(lf.StatusMax); lf.StatusMax != "" && err == nil {
		f.StatusMax = &v
	} else if lf.StatusMax != "" {
		problems = append(problems, "status to must be a number")
	}
	var (
		items []requestlog.Entry
		next  string
		err   error
	)
	if len(problems) == 0 {
		items, next, err = a.RequestLogs.List(ctx, store.ListOptions{Scope: op.Scope(authz.ResourceRequestLogs, authz.VerbList).Query(),
			Page: store.Page{Limit: 100, Cursor: lf.Cursor}}, f)
		if p := problem.As(err); err != nil && p.Status == http.StatusBadRequest {
			problems, err = append(problems, "the page cursor is not valid; start from the first page"), nil
		}
		if err != nil {
			return "", "", nil, err
		}
	}
	nextQ := q
	nextQ.Set("cursor", next)
	return "Request log", "admin-requestlogs", struct {
		Filter   logFilter
		Problems []string
		Rows     []requestlog.Entry
		Next     string
	}{lf, problems, items, map[bool]string{true: nextQ.Encode(), false: ""}[next != ""]}, nil
}

func (a *Admin) requestLog(ctx context.Context, op authz.Set, r *http.Request) (string, string, any, error) {
	e, err := a.RequestLogs.Get(ctx, r.PathValue("id"))
	if p := problem.As(err); err != nil && p.Status == http.StatusNotFound {
		return "", "", nil, errPageNotFound
	}
	if err != nil {
		return "", "", nil, err
	}
	if !op.Allows(e.Namespace, authz.ResourceRequestLogs, authz.VerbGet, e.ID) {
		return "", "", nil, errPageNotFound
	}
	d := requestLogData{Entry: e}
	if e.BodiesRecorded {
		b, err := a.RequestLogs.Bodies(ctx, e.ID)
		switch p := problem.As(err); {
		case err == nil:
			d.Request, d.Response = recordedOf(&b.Request), recordedOf(&b.Response)
		case p.Status < 500:
			d.BodiesNote = p.Detail // gone (key destroyed) or missing
		default:
			return "", "", nil, err
		}
	}
	return "Request " + e.ID, "admin-requestlog", d, nil
}

type requestLogData struct {
	*requestlog.Entry
	Request, Response *recorded
	BodiesNote        string
}

// recorded is a recorded message as the page shows it: text, or a note that it is binary.
type recorded struct {
	Header    map[string][]string
	Size      int64
	Truncated bool
	Omitted   string
	Text      string
	Binary    bool
}

func recordedOf(m *requestlog.Message) *recorded {
	out := &recorded{Header: m.Header, Size: m.Size, Truncated: m.Truncated, Omitted: m.Omitted}
	if utf8.Valid(m.Body) {
		out.Text = string(m.Body)
	} else {
		out.Binary = true
	}
	return out
}

type debtRow struct {
	keys.DebtRow
	Share float64
}

func (a *Admin) encryption(ctx context.Context, op authz.Set, _ *http.Request) (string, string, any, error) {
	rows, err := a.Keys.Debt(ctx)
	if err != nil {
		return "", "", nil, err
	}
	totals := map[string]int64{}
	var visible []keys.DebtRow
	for _, r := range rows {
		ns := r.Namespace
		if ns == "" {
			ns = namespace.Root
		}
		if !op.Allows(ns, authz.ResourceKeys, authz.VerbGet, "") {
			continue
		}
		visible = append(visible, r)
		totals[r.Table+"."+r.Column+"/"+ns] += r.Count
	}
	out := make([]debtRow, 0, len(visible))
	for _, r := range visible {
		ns := r.Namespace
		if ns == "" {
			ns = namespace.Root
		}
		out = append(out, debtRow{DebtRow: r, Share: 100 * float64(r.Count) / float64(max(totals[r.Table+"."+r.Column+"/"+ns], 1))})
	}
	var job *keys.Job
	if op.Allows(namespace.Root, authz.ResourceKeys, authz.VerbGet, "") {
		if job, err = a.Keys.CurrentJob(ctx); err != nil {
			return "", "", nil, err
		}
	}
	return "Encryption", "admin-encryption", struct {
		Rows []debtRow
		Job  *keys.Job
	}{out, job}, nil
}

type queueRow struct {
	Name                                                         string
	Size, Pending, Active, Scheduled, Retry, Archived, Completed int
	Processed, Failed                                            int
	Paused                                                       bool
	Latency                                                      time.Duration
}

func (a *Admin) queues(ctx context.Context, op authz.Set, _ *http.Request) (string, string, any, error) {
	// Queues span every namespace: operators of the root only.
	if !op.Allows(namespace.Root, authz.ResourceNamespaces, authz.VerbGet, "") {
		return "Queues", "message", "The task queues span every namespace; they are shown to operators of the root namespace only.", nil
	}
	if a.Queues == nil {
		return "Queues", "message", "This server has no task queues.", nil
	}
	names, err := a.Queues.Queues()
	if err != nil {
		return "", "", nil, err
	}
	sort.Strings(names)
	var rows []queueRow
	for _, n := range names {
		qi, err := a.Queues.GetQueueInfo(n)
		if err != nil {
			return "", "", nil, err
		}
		rows = append(rows, queueRow{Name: n, Size: qi.Size, Pending: qi.Pending, Active: qi.Active, Scheduled: qi.Scheduled,
			Retry: qi.Retry, Archived: qi.Archived, Completed: qi.Completed, Processed: qi.Processed, Failed: qi.Failed,
			Paused: qi.Paused, Latency: qi.Latency})
	}
	return "Queues", "admin-queues", rows, nil
}

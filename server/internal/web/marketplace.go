package web

import (
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/authproxy/authproxy/server/internal/connector/definition"
	"github.com/authproxy/authproxy/server/internal/namespace"
	"github.com/authproxy/authproxy/server/internal/store"
)

// RegisterMarketplace adds the marketplace pages to the public service's mux.
func (s *Site) RegisterMarketplace(mux *http.ServeMux) {
	rl := marketplaceRealm
	mux.HandleFunc("GET "+rl.base, s.handoff(rl))
	mux.HandleFunc("POST "+rl.base, s.handoff(rl))
	mux.Handle("GET "+rl.base+"/static/", s.static(rl.base+"/static/"))
	mux.HandleFunc("GET "+rl.base+"/theme.css", s.themeCSS)
	mux.HandleFunc("GET "+rl.base+"/{$}", s.signedIn(rl, s.catalog))
	mux.HandleFunc("GET "+rl.base+"/connectors/{id}", s.signedIn(rl, s.connectorDetail))
	mux.HandleFunc("POST "+rl.base+"/signout", s.signOut(rl))
	s.registerConnect(mux)
}

// offer is a connector the user can connect to: its primary version's definition.
type offer struct {
	ID         string
	Version    int
	Display    definition.Display
	AuthType   string
	Definition *definition.Definition
}

// offers lists the connectors visible to the user's namespace: those in it or in one of its
// ancestors that have a primary version, by display name.
func (s *Site) offers(r *http.Request, ns string) ([]offer, error) {
	scope := store.Scope{}
	for p := ns; ; {
		scope.Rules = append(scope.Rules, store.ScopeRule{Namespace: p})
		parent, ok := namespace.Parent(p)
		if !ok {
			break
		}
		p = parent
	}
	var out []offer
	o := store.ListOptions{Scope: scope, Page: store.Page{Limit: 500}}
	for {
		cs, next, err := s.Connectors.List(r.Context(), o)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			if c.PrimaryVersion == 0 {
				continue
			}
			d, err := s.Connections.Definition(r.Context(), c.ID, c.PrimaryVersion)
			if err != nil {
				return nil, err
			}
			out = append(out, offer{ID: c.ID, Version: c.PrimaryVersion, Display: d.Display, AuthType: d.Auth.Type, Definition: d})
		}
		if next == "" {
			break
		}
		o.Page.Cursor = next
	}
	sort.SliceStable(out, func(i, j int) bool {
		return strings.ToLower(out[i].Display.Name) < strings.ToLower(out[j].Display.Name)
	})
	return out, nil
}

// offer returns the visible connector id, or nil.
func (s *Site) offer(r *http.Request, ns, id string) (*offer, error) {
	all, err := s.offers(r, ns)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].ID == id {
			return &all[i], nil
		}
	}
	return nil, nil
}

// visibleOffer is the connector named in the path when the user can connect to it;
// otherwise it answers (404, or 500) and reports false.
func (s *Site) visibleOffer(w http.ResponseWriter, r *http.Request) (*offer, bool) {
	sess := sessionFrom(r.Context())
	o, err := s.offer(r, sess.Namespace, r.PathValue("id"))
	if err != nil {
		s.failed(w, r, marketplaceBase, err)
		return nil, false
	}
	if o == nil {
		s.render(w, r, http.StatusNotFound, "message", page{Title: "Not found", Base: marketplaceBase, Session: sess,
			Data: "There is no such connector here."})
		return nil, false
	}
	return o, true
}

type catalogData struct {
	Query      string
	Category   string
	Categories []string
	Offers     []offer
	Total      int
}

func (s *Site) catalog(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	all, err := s.offers(r, sess.Namespace)
	if err != nil {
		s.failed(w, r, marketplaceBase, err)
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	cat := r.URL.Query().Get("category")
	d := catalogData{Query: q, Category: cat, Total: len(all)}
	for _, o := range all {
		for _, c := range o.Display.Categories {
			if !slices.Contains(d.Categories, c) {
				d.Categories = append(d.Categories, c)
			}
		}
		if cat != "" && !slices.Contains(o.Display.Categories, cat) {
			continue
		}
		if q != "" && !strings.Contains(strings.ToLower(o.Display.Name+" "+o.Display.Description), strings.ToLower(q)) {
			continue
		}
		d.Offers = append(d.Offers, o)
	}
	sort.Strings(d.Categories)
	s.render(w, r, http.StatusOK, "catalog", page{Title: "Connect an account", Base: marketplaceBase, Session: sess, Data: d})
}

func (s *Site) connectorDetail(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	o, ok := s.visibleOffer(w, r)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, "connector", page{Title: o.Display.Name, Base: marketplaceBase, Session: sess, Data: o})
}

// failed logs an internal failure and shows a page that reveals nothing of it.
func (s *Site) failed(w http.ResponseWriter, r *http.Request, base string, err error) {
	s.logger().ErrorContext(r.Context(), "web: page failed", "path", r.URL.Path, "error", err)
	s.render(w, r, http.StatusInternalServerError, "message", page{Title: "Something went wrong", Base: base,
		Session: sessionFrom(r.Context()), Data: "This page could not be shown. Try again in a moment."})
}

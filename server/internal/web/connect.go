package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/authproxy/authproxy/server/internal/connection"
	"github.com/authproxy/authproxy/server/internal/connector/definition"
	"github.com/authproxy/authproxy/server/internal/oauthflow"
	"github.com/authproxy/authproxy/server/internal/probe"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/store"
)

// Connecting is what the marketplace needs beyond reading: starting OAuth2 flows for the
// signed-in user and checking API keys with the connector's probes before storing them.
type Connecting struct {
	// Flow runs the OAuth2 authorization code flows, which the marketplace begins for the
	// signed-in user (their session required) and which come back to "my connections".
	Flow *oauthflow.Flow
	// Probes tries API keys with the connector's probes before they are stored (nil: keys
	// are stored unchecked).
	Probes *probe.Runner
}

// flowOptions bind a flow begun in the marketplace to the user's session and bring the
// browser back to "my connections".
func (s *Site) flowOptions(user string) oauthflow.Options {
	return oauthflow.Options{User: user, RequireSession: true, ReturnTo: "/marketplace/connections"}
}

// verification checks a new API key with the connector's probes, when it has any.
func (s *Site) verification() *probe.Verification {
	if s.Connecting.Probes == nil {
		return nil
	}
	return s.Connecting.Probes.NewVerification(true)
}

func (s *Site) registerConnect(mux *http.ServeMux) {
	rl := marketplaceRealm
	mux.HandleFunc("GET "+rl.base+"/connectors/{id}/connect", s.signedIn(rl, s.connectForm))
	mux.HandleFunc("POST "+rl.base+"/connectors/{id}/connect", s.signedIn(rl, s.connect))
	mux.HandleFunc("GET "+rl.base+"/connections", s.signedIn(rl, s.myConnections))
	mux.HandleFunc("GET "+rl.base+"/connections/{id}/reconnect", s.signedIn(rl, s.reconnectForm))
	mux.HandleFunc("POST "+rl.base+"/connections/{id}/reconnect", s.signedIn(rl, s.reconnect))
	mux.HandleFunc("GET "+rl.base+"/connections/{id}/disconnect", s.signedIn(rl, s.disconnectForm))
	mux.HandleFunc("POST "+rl.base+"/connections/{id}/disconnect", s.signedIn(rl, s.disconnect))
}

type connectData struct {
	Offer  *offer
	Conn   *connection.Connection // reconnecting
	Values map[string]string
	Errors map[string]string
	Action string
}

func (s *Site) connectForm(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	o, ok := s.visibleOffer(w, r)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, "connect", page{Title: "Connect " + o.Display.Name, Base: marketplaceBase, Session: sess,
		Data: connectData{Offer: o, Values: map[string]string{}, Errors: map[string]string{}, Action: "/marketplace/connectors/" + o.ID + "/connect"}})
}

// fieldErrors maps the problem's field errors to form fields ("config.x" → "x").
func fieldErrors(err error) (map[string]string, string) {
	p := problem.As(err)
	out := map[string]string{}
	for _, f := range p.Fields {
		out[strings.TrimPrefix(f.Field, "config.")] = f.Message
	}
	if p.Status >= 500 {
		return out, "Connecting failed. Try again in a moment."
	}
	if len(out) > 0 {
		return out, "Check the highlighted fields."
	}
	return out, p.Detail
}

func (s *Site) connect(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	o, ok := s.visibleOffer(w, r)
	if !ok {
		return
	}
	values := map[string]string{}
	cfg := map[string]string{}
	for _, f := range o.Definition.Config.Fields {
		v := strings.TrimSpace(r.PostForm.Get("config." + f.Name))
		values[f.Name] = v
		if v != "" {
			cfg[f.Name] = v
		}
	}
	n := connection.New{Namespace: sess.Namespace, ConnectorID: o.ID, OwnerActorID: sess.ActorID, Config: cfg}
	if o.AuthType == definition.AuthAPIKey {
		key := r.PostForm.Get("apiKey")
		if key == "" {
			s.connectAgain(w, r, o, nil, values, map[string]string{"apiKey": "Enter the API key."}, "Check the highlighted fields.")
			return
		}
		n.APIKey = &key
	}
	verified := s.verification()
	if n.APIKey != nil && verified != nil {
		n.Verify = verified.Verify
	}
	c, err := s.Connections.Create(r.Context(), n)
	if err != nil {
		errs, msg := fieldErrors(err)
		if p := problem.As(err); p.Status >= 500 {
			s.logger().ErrorContext(r.Context(), "web: connect failed", "connector", o.ID, "error", err)
		}
		s.connectAgain(w, r, o, nil, values, errs, msg)
		return
	}
	c = verified.Record(r.Context(), c)
	s.afterConnect(w, r, c, o)
}

// afterConnect sends the browser on: to the provider for an authorization code connection,
// else to "my connections".
func (s *Site) afterConnect(w http.ResponseWriter, r *http.Request, c *connection.Connection, o *offer) {
	sess := sessionFrom(r.Context())
	if c.State == connection.Setup {
		u, err := s.Connecting.Flow.Authorize(r.Context(), c, sess.ActorID, s.flowOptions(sess.ActorID))
		if err != nil {
			s.connectAgain(w, r, o, nil, map[string]string{}, map[string]string{}, "Starting the authorization failed: "+problem.As(err).Detail)
			return
		}
		http.Redirect(w, r, u, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/marketplace/connections?"+url.Values{"connected": {c.ID}}.Encode(), http.StatusSeeOther)
}

func (s *Site) connectAgain(w http.ResponseWriter, r *http.Request, o *offer, c *connection.Connection, values, errs map[string]string, msg string) {
	action := "/marketplace/connectors/" + o.ID + "/connect"
	title := "Connect " + o.Display.Name
	if c != nil {
		action = "/marketplace/connections/" + c.ID + "/reconnect"
		title = "Reconnect " + o.Display.Name
	}
	s.render(w, r, http.StatusUnprocessableEntity, "connect", page{Title: title, Base: marketplaceBase, Session: sessionFrom(r.Context()),
		Error: msg, Data: connectData{Offer: o, Conn: c, Values: values, Errors: errs, Action: action}})
}

type myConnection struct {
	Conn  connection.Connection
	Offer *offer
	Name  string
}

func (s *Site) myConnections(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	cs, _, err := all(500, func(p store.Page) ([]connection.Connection, string, error) {
		return s.Connections.List(r.Context(), store.ListOptions{Namespace: sess.Namespace, Scope: store.Scope{All: true}, Page: p},
			connection.Filter{OwnerActorID: sess.ActorID})
	})
	if err != nil {
		s.failed(w, r, marketplaceBase, err)
		return
	}
	offers, err := s.offers(r, sess.Namespace)
	if err != nil {
		s.failed(w, r, marketplaceBase, err)
		return
	}
	var rows []myConnection
	for _, c := range cs {
		if c.State == connection.Disconnected {
			continue
		}
		row := myConnection{Conn: c, Name: c.ConnectorID}
		for i := range offers {
			if offers[i].ID == c.ConnectorID {
				row.Offer, row.Name = &offers[i], offers[i].Display.Name
			}
		}
		rows = append(rows, row)
	}
	p := page{Title: "My connections", Base: marketplaceBase, Session: sess, Data: rows}
	q := r.URL.Query()
	switch {
	case q.Get("connected") != "":
		p.Flash = "Connected."
	case q.Get("disconnected") != "":
		p.Flash = "Disconnected."
	case q.Get("oauth2") == "connected":
		p.Flash = "Connected."
	case q.Get("oauth2") != "":
		p.Error = oauth2Outcome(q.Get("oauth2"))
	}
	s.render(w, r, http.StatusOK, "connections", p)
}

// oauth2Outcome is the readable failure of an OAuth2 flow that came back to the marketplace.
func oauth2Outcome(code string) string {
	switch code {
	case "denied":
		return "Access was denied at the provider, so the account was not connected."
	case "expired":
		return "The authorization took too long or was already used. Connect again."
	case "failed":
		return "The provider did not complete the authorization. Connect again, or try later."
	}
	return "The authorization did not complete."
}

// owned returns the signed-in user's connection id, or nil (another user's connection is
// reported exactly like a missing one).
func (s *Site) owned(r *http.Request) (*connection.Connection, error) {
	sess := sessionFrom(r.Context())
	c, err := s.Connections.Get(r.Context(), r.PathValue("id"))
	if p := problem.As(err); err != nil && p.Status == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if c.OwnerActorID != sess.ActorID || c.Namespace != sess.Namespace {
		return nil, nil
	}
	return c, nil
}

// ownedConnection is the signed-in user's connection named in the path with the connector
// version it was made on; otherwise it answers (404, or 500) and reports false.
func (s *Site) ownedConnection(w http.ResponseWriter, r *http.Request) (*connection.Connection, *offer, bool) {
	c, err := s.owned(r)
	if err != nil {
		s.failed(w, r, marketplaceBase, err)
		return nil, nil, false
	}
	if c == nil {
		s.notYours(w, r)
		return nil, nil, false
	}
	o, err := s.offerOf(r, c)
	if err != nil {
		s.failed(w, r, marketplaceBase, err)
		return nil, nil, false
	}
	return c, o, true
}

func (s *Site) notYours(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusNotFound, "message", page{Title: "Not found", Base: marketplaceBase, Session: sessionFrom(r.Context()),
		Data: "There is no such connection among yours."})
}

func (s *Site) reconnectForm(w http.ResponseWriter, r *http.Request) {
	c, o, ok := s.ownedConnection(w, r)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, "connect", page{Title: "Reconnect " + o.Display.Name, Base: marketplaceBase, Session: sessionFrom(r.Context()),
		Data: connectData{Offer: o, Conn: c, Values: c.Config, Errors: map[string]string{}, Action: "/marketplace/connections/" + c.ID + "/reconnect"}})
}

// offerOf is the connector version a connection was made on, as an offer (for its name and
// form), whether or not it is still primary.
func (s *Site) offerOf(r *http.Request, c *connection.Connection) (*offer, error) {
	d, err := s.Connections.Definition(r.Context(), c.ConnectorID, c.ConnectorVersion)
	if err != nil {
		return nil, err
	}
	return &offer{ID: c.ConnectorID, Version: c.ConnectorVersion, Display: d.Display, AuthType: d.Auth.Type, Definition: d}, nil
}

func (s *Site) reconnect(w http.ResponseWriter, r *http.Request) {
	c, o, ok := s.ownedConnection(w, r)
	if !ok {
		return
	}
	switch o.AuthType {
	case definition.AuthAPIKey:
		key := r.PostForm.Get("apiKey")
		if key == "" {
			s.connectAgain(w, r, o, c, c.Config, map[string]string{"apiKey": "Enter the API key."}, "Check the highlighted fields.")
			return
		}
		verified := s.verification()
		if verified != nil {
			if err := verified.Verify(r.Context(), c, key); err != nil {
				errs, msg := fieldErrors(err)
				s.connectAgain(w, r, o, c, c.Config, errs, msg)
				return
			}
		}
		c2, err := s.Connections.SetAPIKey(r.Context(), c.ID, key)
		if err != nil {
			errs, msg := fieldErrors(err)
			s.connectAgain(w, r, o, c, c.Config, errs, msg)
			return
		}
		verified.Record(r.Context(), c2)
		http.Redirect(w, r, "/marketplace/connections?"+url.Values{"connected": {c.ID}}.Encode(), http.StatusSeeOther)
	case definition.AuthOAuth2:
		user := sessionFrom(r.Context()).ActorID
		_, u, err := s.Connecting.Flow.Reauthorize(r.Context(), c.ID, user, s.flowOptions(user))
		if err != nil {
			s.connectAgain(w, r, o, c, c.Config, map[string]string{}, "Reconnecting failed: "+problem.As(err).Detail)
			return
		}
		if u == "" { // client credentials: a new token was fetched at once
			http.Redirect(w, r, "/marketplace/connections?"+url.Values{"connected": {c.ID}}.Encode(), http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, u, http.StatusSeeOther)
	default:
		s.render(w, r, http.StatusConflict, "message", page{Title: "Nothing to reconnect", Base: marketplaceBase, Session: sessionFrom(r.Context()),
			Data: "This connection needs no credentials."})
	}
}

func (s *Site) disconnectForm(w http.ResponseWriter, r *http.Request) {
	c, o, ok := s.ownedConnection(w, r)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, "disconnect", page{Title: "Disconnect " + o.Display.Name, Base: marketplaceBase,
		Session: sessionFrom(r.Context()), Data: myConnection{Conn: *c, Offer: o, Name: o.Display.Name}})
}

func (s *Site) disconnect(w http.ResponseWriter, r *http.Request) {
	c, _, ok := s.ownedConnection(w, r)
	if !ok {
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		http.Redirect(w, r, "/marketplace/connections/"+c.ID+"/disconnect", http.StatusSeeOther)
		return
	}
	if _, err := s.Connections.Disconnect(r.Context(), c.ID); err != nil {
		s.failed(w, r, marketplaceBase, err)
		return
	}
	http.Redirect(w, r, "/marketplace/connections?"+url.Values{"disconnected": {c.ID}}.Encode(), http.StatusSeeOther)
}

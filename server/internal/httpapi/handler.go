// Package httpapi implements the generated strict-server interface of the OpenAPI contract:
// one file per resource, with authentication, request validation and problem responses kept
// in middleware.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"slices"

	"github.com/gorilla/mux"

	"github.com/authproxy/authproxy/server/internal/actor"
	"github.com/authproxy/authproxy/server/internal/api"
	"github.com/authproxy/authproxy/server/internal/authn"
	"github.com/authproxy/authproxy/server/internal/connection"
	"github.com/authproxy/authproxy/server/internal/connector"
	"github.com/authproxy/authproxy/server/internal/connector/definition"
	"github.com/authproxy/authproxy/server/internal/keys"
	"github.com/authproxy/authproxy/server/internal/namespace"
	"github.com/authproxy/authproxy/server/internal/oauthflow"
	"github.com/authproxy/authproxy/server/internal/probe"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/proxy"
	"github.com/authproxy/authproxy/server/internal/requestlog"
)

// MaxBodyBytes bounds every request body but those of the streaming proxy.
const MaxBodyBytes = 1 << 20

// Config wires the API to the domain.
type Config struct {
	Namespaces  *namespace.Service
	Actors      *actor.Service
	Keys        *keys.Service
	Connectors  *connector.Service
	Connections *connection.Service
	Proxy       *proxy.Proxy
	Probes      *probe.Runner
	RequestLogs *requestlog.Service
	Verifier    *authn.Verifier
	// OAuth2Flow starts the authorization code flow of new OAuth2 connections.
	OAuth2Flow OAuth2Flow
	// Audience is the service name tokens must carry in aud ("admin", "api").
	Audience string
	Logger   *slog.Logger
}

// Server implements api.StrictServerInterface.
type Server struct {
	namespaces  *namespace.Service
	actors      *actor.Service
	keys        *keys.Service
	connectors  *connector.Service
	connections *connection.Service
	proxy       *proxy.Proxy
	probes      *probe.Runner
	requestLogs *requestlog.Service
	oauth2Flow  OAuth2Flow
}

// OAuth2Flow starts an authorization code flow (package oauthflow implements it).
type OAuth2Flow interface {
	// Authorize returns the public service URL to send the user to for connection c, on
	// behalf of actorID (a connection in setup whose flow cannot begin is failed).
	Authorize(ctx context.Context, c *connection.Connection, actorID string, o oauthflow.Options) (string, error)
	// Reauthorize authorizes a connection again; authorizeURL is empty when no flow is needed.
	Reauthorize(ctx context.Context, connectionID, actorID string, o oauthflow.Options) (*connection.Connection, string, error)
}

var _ api.StrictServerInterface = (*Server)(nil)

// New returns the handler serving /api/v1 and the spec at /openapi.json and /openapi.yaml.
func New(cfg Config) (http.Handler, error) {
	spec, err := api.Spec()
	if err != nil {
		return nil, err
	}
	specJSON, err := api.SpecJSON()
	if err != nil {
		return nil, err
	}
	specYAML := api.SpecYAML
	srv := &Server{namespaces: cfg.Namespaces, actors: cfg.Actors, keys: cfg.Keys, connectors: cfg.Connectors, connections: cfg.Connections, proxy: cfg.Proxy, probes: cfg.Probes, requestLogs: cfg.RequestLogs, oauth2Flow: cfg.OAuth2Flow}
	strict := api.NewStrictHandlerWithOptions(srv, nil, api.StrictHTTPServerOptions{
		RequestErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
			writeProblem(w, r, problem.InvalidField("body", "%v", err))
		},
		ResponseErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
			p := problem.As(err)
			if p.Status >= 500 {
				logger(cfg.Logger).ErrorContext(r.Context(), "request failed", "error", err, "request_id", RequestID(r.Context()))
			}
			writeProblem(w, r, p)
		},
	})
	router := mux.NewRouter()
	router.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, problem.NotFound("no route for %s %s", r.Method, r.URL.Path))
	})
	router.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, problem.New(http.StatusMethodNotAllowed, "method %s is not allowed on %s", r.Method, r.URL.Path))
	})
	router.Methods(http.MethodGet).Path("/openapi.json").HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(specJSON)
	})
	router.Methods(http.MethodGet).Path("/openapi.yaml").HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(specYAML)
	})
	router.Methods(http.MethodGet).Path("/schemas/connector-definition.json").HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/schema+json")
		_, _ = w.Write(definition.Schema)
	})
	// The streaming proxy skips the body limit, JSON checks and spec validation (its bodies
	// are the upstream's, of any type and size) but is authenticated like every API call.
	// mux.Methods upper-cases the slice it is given in place: give each router its own copy,
	// or servers built concurrently race on the shared one.
	router.Methods(slices.Clone(proxyRawMethods)...).Path(proxyRawPath).Handler(
		authenticate(cfg.Verifier, cfg.Audience, cfg.Logger)(correlate(srv.proxyRaw(cfg.Logger))))
	apiRouter := mux.NewRouter()
	apiRouter.NotFoundHandler = router.NotFoundHandler
	apiRouter.MethodNotAllowedHandler = router.MethodNotAllowedHandler
	apiRouter.Use(limitBody, authenticate(cfg.Verifier, cfg.Audience, cfg.Logger), correlate, singleJSONBody, validateRequests(spec))
	api.HandlerWithOptions(strict, api.GorillaServerOptions{
		BaseRouter: apiRouter,
		ErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
			writeProblem(w, r, problem.InvalidField("parameters", "%v", err))
		},
	})
	router.PathPrefix("/api/").Handler(apiRouter)
	return router, nil
}

func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}

// writeProblem writes p with the request id of r.
func writeProblem(w http.ResponseWriter, r *http.Request, p *problem.Error) {
	cp := *p
	cp.RequestID = RequestID(r.Context())
	cp.Instance = r.URL.Path
	problem.Write(w, &cp)
}

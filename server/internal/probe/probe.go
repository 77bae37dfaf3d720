// Package probe runs a connector's probes — health-check requests declared in its
// definition — through a connection, and keeps the connection's health from their outcome:
// all probes healthy → healthy; a failing run counts one consecutive failure, and the
// connection becomes unhealthy after connection.UnhealthyAfter of them, or at once when the
// upstream refuses the credentials (401, 403).
//
// Every probe is a call through the proxy (allowed URLs, dial guard, credential injection,
// request log with kind probe). Verify runs them with an API key that is not stored yet.
package probe

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/authproxy/authproxy/server/internal/connection"
	"github.com/authproxy/authproxy/server/internal/connector/definition"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/proxy"
	"github.com/authproxy/authproxy/server/internal/requestlog"
)

// Runner runs probes through the proxy.
type Runner struct {
	Proxy       *proxy.Proxy
	Connections *connection.Service
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Result is the outcome of one probe.
type Result struct {
	Name   string
	Method string
	// URL is the probe's URL with the connection's config filled in and secret query values
	// redacted.
	URL     string
	Healthy bool
	// Status is the upstream's status, 0 without a response.
	Status   int
	Duration time.Duration
	// Error says why the probe failed (no secret, no URL query).
	Error string
}

// Report is the outcome of one run of a connection's probes.
type Report struct {
	Healthy bool
	Results []Result
	// CredentialsRefused says a probe failed with 401 or 403.
	CredentialsRefused bool
	// Connection is the connection after the outcome was recorded (Run only).
	Connection *connection.Connection
}

// failed is the first failed result, nil when all are healthy.
func (r *Report) failed() *Result {
	for i := range r.Results {
		if !r.Results[i].Healthy {
			return &r.Results[i]
		}
	}
	return nil
}

// Reason says which probe failed and how ("" when none did).
func (r *Report) Reason() string {
	f := r.failed()
	if f == nil {
		return ""
	}
	return fmt.Sprintf("probe %q: %s", f.Name, f.Error)
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Probes returns the probes of the connection's connector version.
func (r *Runner) Probes(ctx context.Context, c *connection.Connection) ([]definition.Probe, error) {
	def, err := r.Connections.Definition(ctx, c.ConnectorID, c.ConnectorVersion)
	if err != nil {
		return nil, err
	}
	return def.Probes, nil
}

// Run runs the probes of a ready connection and records the outcome on it (health,
// consecutive failures, when it was probed and when the probes are due again: after the
// shortest probe period). A connection that is not ready, or whose connector has no probes,
// is a 409.
func (r *Runner) Run(ctx context.Context, c *connection.Connection) (*Report, error) {
	if c.State != connection.Ready {
		return nil, problem.Conflict("connection %s is %s, not ready: its probes run only when it is ready", c.ID, c.State)
	}
	def, err := r.Connections.Definition(ctx, c.ConnectorID, c.ConnectorVersion)
	if err != nil {
		return nil, err
	}
	if len(def.Probes) == 0 {
		return nil, problem.Conflict("connector %s version %d has no probes", c.ConnectorID, c.ConnectorVersion)
	}
	started := r.now()
	rep := r.check(ctx, c, def)
	end := r.now()
	if _, err := r.Connections.RecordProbe(context.WithoutCancel(ctx), c.ID, connection.ProbeOutcome{
		Healthy: rep.Healthy, Reason: rep.Reason(), CredentialsRefused: rep.CredentialsRefused,
		Started: started, At: end, Next: end.Add(Period(def)),
	}); err != nil {
		return nil, fmt.Errorf("probe: record the outcome for %s: %w", c.ID, err)
	}
	if rep.Connection, err = r.Connections.Get(ctx, c.ID); err != nil {
		return nil, err
	}
	return rep, nil
}

// Record stores the outcome of a verification (see Verify) on the connection it verified,
// once that connection holds the verified key.
func (r *Runner) Record(ctx context.Context, c *connection.Connection, rep *Report) (*connection.Connection, error) {
	def, err := r.Connections.Definition(ctx, c.ConnectorID, c.ConnectorVersion)
	if err != nil {
		return nil, err
	}
	at := r.now()
	if _, err := r.Connections.RecordProbe(context.WithoutCancel(ctx), c.ID, connection.ProbeOutcome{
		Healthy: rep.Healthy, Reason: rep.Reason(), CredentialsRefused: rep.CredentialsRefused, At: at, Next: at.Add(Period(def)),
	}); err != nil {
		return nil, fmt.Errorf("probe: record the verification of %s: %w", c.ID, err)
	}
	return r.Connections.Get(ctx, c.ID)
}

// Verify runs the probes of connection c (which may not be stored yet) with apiKey in place
// of its stored credentials and records nothing. It answers 422 naming "verify" when the
// connector does not authenticate with an API key or has no probes, and 422 naming
// "apiKey" and the probe when one fails.
func (r *Runner) Verify(ctx context.Context, c *connection.Connection, apiKey string) (*Report, error) {
	def, err := r.Connections.Definition(ctx, c.ConnectorID, c.ConnectorVersion)
	if err != nil {
		return nil, err
	}
	if def.Auth.Type != definition.AuthAPIKey {
		return nil, unprocessable("verify", "connector %s authenticates with %s, not an API key: there is no key to verify", c.ConnectorID, def.Auth.Type)
	}
	if len(def.Probes) == 0 {
		return nil, unprocessable("verify", "the connector has no probes (connector %s version %d)", c.ConnectorID, c.ConnectorVersion)
	}
	if apiKey == "" {
		return nil, unprocessable("apiKey", "is required to verify it")
	}
	cand := *c
	cand.State = connection.Ready
	ctx = proxy.WithCandidateCredentials(ctx, &connection.Credentials{APIKey: apiKey})
	rep := r.check(ctx, &cand, def)
	if f := rep.failed(); f != nil {
		return rep, unprocessable("apiKey", "the key failed the connector's probe %q: %s", f.Name, f.Error)
	}
	return rep, nil
}

// unprocessable is a 422 naming the field at fault.
func unprocessable(field, format string, args ...any) *problem.Error {
	msg := fmt.Sprintf(format, args...)
	e := problem.New(http.StatusUnprocessableEntity, "%s: %s", field, msg)
	e.Fields = []problem.FieldError{{Field: field, Message: msg}}
	return e
}

// Period is how often the connector's probes run: the shortest probe period (at least
// definition.MinProbePeriod).
func Period(def *definition.Definition) time.Duration {
	p := time.Duration(0)
	for _, pr := range def.Probes {
		d := pr.Period.Duration
		if d <= 0 {
			d = definition.DefaultProbePeriod
		}
		if p == 0 || d < p {
			p = d
		}
	}
	if p == 0 {
		p = definition.DefaultProbePeriod
	}
	return max(p, definition.MinProbePeriod)
}

// check runs every probe of def through c, one after the other.
func (r *Runner) check(ctx context.Context, c *connection.Connection, def *definition.Definition) *Report {
	ctx = requestlog.WithKind(ctx, requestlog.KindProbe)
	var apiKeyParam string
	if def.Auth.Type == definition.AuthAPIKey && def.Auth.APIKey != nil && def.Auth.APIKey.Placement == definition.PlaceQuery {
		apiKeyParam = def.Auth.APIKey.QueryParam
	}
	rep := &Report{Healthy: true}
	for _, pr := range def.Probes {
		res := r.one(ctx, c, pr, apiKeyParam)
		if !res.Healthy {
			rep.Healthy = false
			if res.Status == http.StatusUnauthorized || res.Status == http.StatusForbidden {
				rep.CredentialsRefused = true
			}
		}
		rep.Results = append(rep.Results, res)
	}
	return rep
}

func (r *Runner) one(ctx context.Context, c *connection.Connection, pr definition.Probe, apiKeyParam string) Result {
	method := pr.Method
	if method == "" {
		method = http.MethodGet
	}
	res := Result{Name: pr.Name, Method: method}
	target, err := definition.Render(pr.URL, c.Config)
	if err != nil {
		res.URL = requestlog.RedactRawURL(pr.URL, apiKeyParam)
		res.Error = fmt.Sprintf("the probe URL cannot be filled in: %v", err)
		return res
	}
	res.URL = requestlog.RedactRawURL(target, apiKeyParam)
	begin := r.now()
	resp, err := r.Proxy.Do(ctx, c, proxy.Request{Method: method, URL: target})
	res.Duration = r.now().Sub(begin)
	if err != nil {
		res.Error = problem.As(err).Error()
		return res
	}
	res.Status = resp.Status
	if healthy(pr.HealthyStatuses, resp.Status) {
		res.Healthy = true
		return res
	}
	res.Error = fmt.Sprintf("%s %s answered %d %s, expected %s", method, withoutQuery(target), resp.Status,
		http.StatusText(resp.Status), expected(pr.HealthyStatuses))
	return res
}

// healthy reports whether status is one of the healthy statuses (any 2xx when none are
// given).
func healthy(statuses []int, status int) bool {
	if len(statuses) == 0 {
		return status >= 200 && status <= 299
	}
	return slices.Contains(statuses, status)
}

func expected(statuses []int) string {
	if len(statuses) == 0 {
		return "2xx"
	}
	if len(statuses) == 1 {
		return fmt.Sprint(statuses[0])
	}
	return fmt.Sprint("one of ", statuses)
}

// withoutQuery drops the query (which may carry secrets) and fragment of a URL for messages.
func withoutQuery(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment, u.User = "", false, "", "", nil
	return u.String()
}

// Verification tries a new API key with the connector's probes before it is stored (its
// Verify is a connection.New.Verify hook) and, once a connection holds the key, records
// the passed check so the connection is healthy at once (Record).
type Verification struct {
	runner *Runner
	// IfProbes skips the check, instead of refusing it (422), when the connector has no
	// probes: the marketplace checks whatever can be checked, the API's verify asks for it.
	ifProbes bool
	report   *Report
}

// NewVerification starts a verification; with ifProbes, connectors without probes are not
// checked (and not refused).
func (r *Runner) NewVerification(ifProbes bool) *Verification {
	return &Verification{runner: r, ifProbes: ifProbes}
}

// Verify runs the probes of c with apiKey (see Runner.Verify) and keeps the report.
func (v *Verification) Verify(ctx context.Context, c *connection.Connection, apiKey string) error {
	if v.ifProbes {
		if ps, err := v.runner.Probes(ctx, c); err != nil || len(ps) == 0 {
			return err
		}
	}
	rep, err := v.runner.Verify(ctx, c, apiKey)
	v.report = rep
	return err
}

// Record stores a passed check on c, which now holds the verified key, and returns c as
// stored; without a check, or when recording fails (the worker probes it soon anyway), c.
func (v *Verification) Record(ctx context.Context, c *connection.Connection) *connection.Connection {
	if v == nil || v.report == nil {
		return c
	}
	if out, err := v.runner.Record(ctx, c, v.report); err == nil {
		return out
	}
	return c
}

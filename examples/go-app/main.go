// Command go-app shows an application calling a third-party API through AuthProxy without
// ever holding the credential.
//
// It starts a small demo upstream on loopback that wants an API key in X-Api-Key, publishes
// a connector for it, connects an account with the key, and then calls the upstream with a
// plain http.Client whose transport goes through the connection: AuthProxy adds the key.
// Everything it creates is removed at the end.
//
// Run it against a dev server (`make run`, then export the variables its banner prints):
//
//	go run ./examples/go-app
//
// It reads AUTHPROXY_ADMIN_URL, AUTHPROXY_ACTOR and AUTHPROXY_PRIVATE_KEY_FILE. The dev
// server allows upstreams on loopback; a production server refuses them unless its
// proxy.allowLoopback is set.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/authproxy/authproxy/sdk"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx); err != nil {
		log.Fatalf("go-app: %v", err)
	}
	fmt.Println("go-app: OK")
}

// demoUpstream is the "third-party API": it answers only requests carrying the key.
func demoUpstream(key string) (base string, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != key {
			http.Error(w, `{"error":"missing or wrong API key"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"forecast":"sunny","path":%q}`, r.URL.Path)
	})}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String(), func() { _ = srv.Close() }, nil
}

func run(ctx context.Context) error {
	for _, v := range []string{"AUTHPROXY_ADMIN_URL", "AUTHPROXY_ACTOR", "AUTHPROXY_PRIVATE_KEY_FILE"} {
		if os.Getenv(v) == "" {
			return fmt.Errorf("%s is not set: start a dev server (make run) and export the variables it prints", v)
		}
	}
	admin, err := sdk.NewClientFromKeyFile(os.Getenv("AUTHPROXY_ADMIN_URL"), os.Getenv("AUTHPROXY_ACTOR"),
		os.Getenv("AUTHPROXY_PRIVATE_KEY_FILE"), sdk.AudienceAdmin)
	if err != nil {
		return err
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	apiKey := "demo-key-" + suffix

	base, stop, err := demoUpstream(apiKey)
	if err != nil {
		return err
	}
	defer stop()

	// 1. Publish a connector for the demo API (usually done by Terraform).
	cx, err := admin.CreateConnectorWithResponse(ctx, sdk.ConnectorCreate{Namespace: "root", Name: "go-app-demo-" + suffix})
	if err != nil || cx.JSON201 == nil {
		return apiErr("create connector", cx, err)
	}
	connectorID := cx.JSON201.Id
	defer cleanupConnector(admin, connectorID)
	def := fmt.Sprintf(`display: {name: Demo weather}
auth:
  type: api_key
  apiKey: {placement: header, headerName: X-Api-Key}
upstream:
  allowedUrls: [%q]
  timeout: 5s
`, base+"/v1/")
	v, err := admin.CreateConnectorVersionWithResponse(ctx, connectorID, sdk.ConnectorVersionCreate{Definition: def})
	if err != nil || v.JSON201 == nil {
		return apiErr("create connector version", v, err)
	}
	if p, err := admin.PromoteConnectorVersionWithResponse(ctx, connectorID, v.JSON201.Version); err != nil || p.JSON200 == nil {
		return apiErr("promote", p, err)
	}

	// 2. Connect an account: the key goes to AuthProxy once and is never seen again.
	cn, err := admin.CreateConnectionWithResponse(ctx, sdk.ConnectionCreate{Namespace: "root", ConnectorId: connectorID, ApiKey: &apiKey})
	if err != nil || cn.JSON201 == nil {
		return apiErr("create connection", cn, err)
	}
	connectionID := cn.JSON201.Id
	defer cleanupConnection(admin, connectionID)

	// 3. The application: a plain http.Client, the third-party URL, no credential.
	client := sdk.NewConnectionClient(admin, connectionID)
	resp, err := client.Get(base + "/v1/forecast/paris")
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("GET %s/v1/forecast/paris through %s: %d %s\n", base, connectionID, resp.StatusCode, body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the upstream answered %d", resp.StatusCode)
	}

	// AuthProxy refuses URLs the connector does not allow.
	_, err = client.Get(base + "/admin")
	var pe *sdk.ProxyError
	if !errors.As(err, &pe) || pe.Status != http.StatusForbidden {
		return fmt.Errorf("a URL outside the connector's allowed URLs was not refused: %v", err)
	}
	fmt.Printf("GET %s/admin: refused (%d): %s\n", base, pe.Status, pe.Detail)
	return nil
}

type statusCoder interface{ StatusCode() int }

func apiErr(what string, r statusCoder, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: AuthProxy answered %d", what, r.StatusCode())
}

func cleanupConnection(c *sdk.ClientWithResponses, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = c.DisconnectConnectionWithResponse(ctx, id)
	_, _ = c.DeleteConnectionWithResponse(ctx, id)
}

func cleanupConnector(c *sdk.ClientWithResponses, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = c.DemoteConnectorWithResponse(ctx, id)
	if vs, err := c.ListConnectorVersionsWithResponse(ctx, id, nil); err == nil && vs.JSON200 != nil {
		for _, v := range vs.JSON200.Items {
			_, _ = c.ArchiveConnectorVersionWithResponse(ctx, id, v.Version)
		}
	}
	_, _ = c.DeleteConnectorWithResponse(ctx, id)
}

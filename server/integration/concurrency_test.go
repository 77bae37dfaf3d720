package integration_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/authproxy/authproxy/sdk"
)

// parallelDo runs fn n times at once and returns the status codes and bodies.
func parallelDo(n int, fn func(i int) (int, []byte)) ([]int, [][]byte) {
	codes := make([]int, n)
	bodies := make([][]byte, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			codes[i], bodies[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return codes, bodies
}

func countCodes(codes []int) map[int]int {
	m := map[int]int{}
	for _, c := range codes {
		m[c]++
	}
	return m
}

func TestConcurrentDuplicates(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		const n = 8

		codes, bodies := parallelDo(n, func(int) (int, []byte) {
			r, err := h.admin.CreateNamespaceWithResponse(ctx, sdk.CreateNamespaceJSONRequestBody{Path: "root.race"})
			if err != nil {
				return 0, []byte(err.Error())
			}
			return r.StatusCode(), r.Body
		})
		if m := countCodes(codes); m[http.StatusCreated] != 1 || m[http.StatusConflict] != n-1 {
			t.Errorf("concurrent creates of one namespace: %v, want one 201 and %d 409; bodies %q", m, n-1, bodies)
		}

		codes, bodies = parallelDo(n, func(int) (int, []byte) {
			r, err := h.admin.CreateActorWithResponse(ctx, sdk.CreateActorJSONRequestBody{Namespace: "root.race", ExternalId: "racer"})
			if err != nil {
				return 0, []byte(err.Error())
			}
			return r.StatusCode(), r.Body
		})
		if m := countCodes(codes); m[http.StatusCreated] != 1 || m[http.StatusConflict] != n-1 {
			t.Errorf("concurrent creates of one actor: %v, want one 201 and %d 409; bodies %q", m, n-1, bodies)
		}
		if as := allActors(t, h.admin, sdk.ListActorsParams{Namespace: strPtr("root.race")}); len(as) != 1 {
			t.Errorf("%d actors root.race/racer, want 1", len(as))
		}

		// Distinct children of one parent all succeed.
		codes, bodies = parallelDo(n, func(i int) (int, []byte) {
			r, err := h.admin.CreateNamespaceWithResponse(ctx, sdk.CreateNamespaceJSONRequestBody{Path: fmt.Sprintf("root.race.c%d", i)})
			if err != nil {
				return 0, []byte(err.Error())
			}
			return r.StatusCode(), r.Body
		})
		if m := countCodes(codes); m[http.StatusCreated] != n {
			t.Errorf("concurrent creates of distinct children: %v, want %d 201; bodies %q", m, n, bodies)
		}

		// A single-use token sent many times at once is accepted exactly once.
		a := h.mkActor(t, "root.race", "once")
		tok, err := a.Signer.Token(sdk.TokenOptions{Audience: []string{sdk.AudienceAdmin}, SingleUse: true})
		if err != nil {
			t.Fatal(err)
		}
		codes, bodies = parallelDo(n, func(int) (int, []byte) {
			r, err := h.admin.WhoamiWithResponse(ctx, bearer(tok))
			if err != nil {
				return 0, []byte(err.Error())
			}
			return r.StatusCode(), r.Body
		})
		if m := countCodes(codes); m[http.StatusOK] != 1 || m[http.StatusUnauthorized] != n-1 {
			t.Errorf("concurrent replays of a single-use token: %v, want one 200 and %d 401; bodies %q", m, n-1, bodies)
		}
	})
}

// TestDeleteRacingCreates deletes an empty namespace while a child namespace and an actor are
// created in it. Whichever wins, the losers must get a client error (400 "does not exist" or
// 409 "not empty"), never a 500, and no child or actor may outlive its namespace.
func TestDeleteRacingCreates(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		outcomes := map[string]int{}
		for i := range 25 {
			p := fmt.Sprintf("root.r%d", i)
			h.mkNamespace(t, p)
			codes, bodies := parallelDo(3, func(j int) (int, []byte) {
				switch j {
				case 0:
					r, err := h.admin.DeleteNamespaceWithResponse(ctx, p)
					if err != nil {
						return 0, []byte(err.Error())
					}
					return r.StatusCode(), r.Body
				case 1:
					r, err := h.admin.CreateNamespaceWithResponse(ctx, sdk.CreateNamespaceJSONRequestBody{Path: p + ".child"})
					if err != nil {
						return 0, []byte(err.Error())
					}
					return r.StatusCode(), r.Body
				default:
					r, err := h.admin.CreateActorWithResponse(ctx, sdk.CreateActorJSONRequestBody{Namespace: p, ExternalId: "a"})
					if err != nil {
						return 0, []byte(err.Error())
					}
					return r.StatusCode(), r.Body
				}
			})
			outcomes[fmt.Sprintf("delete %d, child %d, actor %d", codes[0], codes[1], codes[2])]++
			for j, c := range codes {
				if c == 0 || c >= 500 {
					t.Errorf("%s: request %d (0 delete, 1 create child, 2 create actor) answered %d: %s", p, j, c, bodies[j])
				}
			}
			exists := h.namespace(t, p) != nil
			if !exists && (h.namespace(t, p+".child") != nil || h.actorByExternalID(t, p, "a") != nil) {
				t.Errorf("%s was deleted but its child or actor survives", p)
			}
			if exists == (codes[0] == http.StatusNoContent) {
				t.Errorf("%s exists=%v after a delete answered %d", p, exists, codes[0])
			}
		}
		t.Logf("outcomes: %v", outcomes)
	})
}

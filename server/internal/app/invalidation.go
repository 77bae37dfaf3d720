package app

import (
	"github.com/authproxy/authproxy/server/internal/authn"
	"github.com/authproxy/authproxy/server/internal/invalidation"
)

// startInvalidation puts the actor and token caches in front of the verifier, and has the
// actor, namespace and connection caches follow the changes every replica of this
// deployment (same worker.queue) announces.
func (a *App) startInvalidation() {
	// One channel per deployment, like the task queue: deployments sharing a Redis do not
	// empty each other's caches.
	a.Invalidation = invalidation.New(a.Redis, invalidation.DefaultChannel+":"+a.Config.Worker.Queue, a.Logger)
	a.Actors.Bus = a.Invalidation
	a.Namespaces.Bus = a.Invalidation
	a.Connections.UseBus(a.Invalidation)
	actors := authn.NewActorCache(a.Actors, authn.DefaultActorCacheTTL)
	a.Invalidation.Subscribe(invalidation.Actors, actors.Invalidate)
	a.Invalidation.Subscribe(invalidation.Namespaces, actors.InvalidateAll)
	a.Verifier.Actors = actors
	a.Verifier.Tokens = authn.NewTokenCache(authn.DefaultMaxCachedTokens)
	a.Invalidation.Start()
}

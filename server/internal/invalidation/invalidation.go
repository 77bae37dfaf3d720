// Package invalidation tells every replica that something it may hold in memory changed.
//
// A Bus carries (topic, key) messages. Publish runs this process's handlers at once and
// sends the message over Redis pub/sub to the other replicas, whose handlers run when it
// arrives. Pub/sub delivers at most once: a replica that loses its subscription (Redis
// down, network) misses messages, so the caches that listen keep a short TTL as the upper
// bound of staleness, and every handler is also called with the key "" (drop everything)
// whenever the subscription is (re)established or lost.
package invalidation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Topics.
const (
	// Actors: key is the actor id.
	Actors = "actor"
	// Namespaces: key is the namespace path.
	Namespaces = "namespace"
	// Connections: key is the connection id.
	Connections = "connection"
)

// All is the key handed to handlers when everything must be dropped.
const All = ""

// DefaultChannel is the Redis pub/sub channel of the bus.
const DefaultChannel = "authproxy:invalidate"

// pingEvery is how often an idle subscription is checked; a lost subscription is noticed
// within about twice this.
const pingEvery = 500 * time.Millisecond

// Handler is called with the key of a change, or All. It must be quick and must not block.
type Handler func(key string)

// Bus is the invalidation channel. The zero value and a nil *Bus are usable: they only run
// local handlers (a nil *Bus runs none).
type Bus struct {
	redis   redis.UniversalClient
	channel string
	logger  *slog.Logger
	origin  string

	mu       sync.RWMutex
	handlers map[string][]Handler

	connected atomic.Bool
	ps        atomic.Pointer[redis.PubSub]
	cancel    context.CancelFunc
	done      chan struct{}
}

// New returns a bus over rdb (nil: local only) on channel (DefaultChannel when empty).
func New(rdb redis.UniversalClient, channel string, logger *slog.Logger) *Bus {
	if channel == "" {
		channel = DefaultChannel
	}
	if logger == nil {
		logger = slog.Default()
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &Bus{redis: rdb, channel: channel, logger: logger, origin: hex.EncodeToString(b[:])}
}

// Subscribe registers h for topic. Handlers run for this process's changes (synchronously,
// inside Publish) and for other replicas' (on the bus's receive goroutine).
func (b *Bus) Subscribe(topic string, h Handler) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.handlers == nil {
		b.handlers = map[string][]Handler{}
	}
	b.handlers[topic] = append(b.handlers[topic], h)
}

func (b *Bus) dispatch(topic, key string) {
	b.mu.RLock()
	hs := b.handlers[topic]
	b.mu.RUnlock()
	for _, h := range hs {
		h(key)
	}
}

func (b *Bus) dispatchAll() {
	b.mu.RLock()
	var hs []Handler
	for _, l := range b.handlers {
		hs = append(hs, l...)
	}
	b.mu.RUnlock()
	for _, h := range hs {
		h(All)
	}
}

// Publish announces that key of topic changed: local handlers run before it returns, then
// the message goes to the other replicas. A failure to reach Redis is logged and returned;
// the change itself has happened, and the other replicas see it at the latest when their
// cache entries expire.
func (b *Bus) Publish(ctx context.Context, topic, key string) error {
	if b == nil {
		return nil
	}
	b.dispatch(topic, key)
	if b.redis == nil {
		return nil
	}
	msg := b.origin + "\x00" + topic + "\x00" + key
	// The change is committed; its announcement must not be lost to a cancelled request.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := b.redis.Publish(pctx, b.channel, msg).Err(); err != nil {
		b.logger.WarnContext(ctx, "invalidation: publish failed; other replicas see the change when their caches expire",
			"topic", topic, "error", err)
		return fmt.Errorf("invalidation: publish %s: %w", topic, err)
	}
	return nil
}

// Connected reports whether the subscription is live (remote changes arrive within about
// a second).
func (b *Bus) Connected() bool { return b != nil && b.connected.Load() }

// Start runs the subscription until Close. It returns at once; handlers get All each time the
// subscription is established or lost.
func (b *Bus) Start() {
	if b == nil || b.redis == nil || b.done != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	b.done = make(chan struct{})
	go func() {
		defer close(b.done)
		b.run(ctx)
	}()
}

// Close stops the subscription.
func (b *Bus) Close() {
	if b == nil || b.cancel == nil {
		return
	}
	b.cancel()
	if ps := b.ps.Load(); ps != nil {
		_ = ps.Close() // unblocks the receive
	}
	<-b.done
}

func (b *Bus) run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := b.subscribe(ctx)
		if b.connected.Swap(false) {
			b.dispatchAll()
		}
		if ctx.Err() != nil {
			return
		}
		b.logger.Warn("invalidation: subscription lost; caches fall back to their TTL", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// subscribe holds one subscription until it fails.
func (b *Bus) subscribe(ctx context.Context) error {
	ps := b.redis.Subscribe(ctx, b.channel)
	defer ps.Close()
	b.ps.Store(ps)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, pingEvery)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !pinged && ctx.Err() == nil {
				// Idle: check the subscription is still there.
				if err := ps.Ping(ctx); err != nil {
					return fmt.Errorf("ping: %w", err)
				}
				pinged = true
				continue
			}
			return err
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				// Whatever was published while we were not subscribed is lost.
				b.connected.Store(true)
				b.dispatchAll()
			}
		case *redis.Message:
			origin, rest, ok := strings.Cut(m.Payload, "\x00")
			if !ok || origin == b.origin {
				continue
			}
			topic, key, ok := strings.Cut(rest, "\x00")
			if !ok {
				continue
			}
			b.dispatch(topic, key)
		case *redis.Pong:
		}
	}
}

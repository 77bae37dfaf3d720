package connection

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// UnhealthyAfter is how many consecutive failed probe runs make a connection unhealthy.
const UnhealthyAfter = 3

// ProbeOutcome is what one run of a connection's probes found.
type ProbeOutcome struct {
	Healthy bool
	// Reason says which probe failed and how; it must hold no secret and no URL query.
	Reason string
	// CredentialsRefused says the upstream answered 401 or 403: unhealthy at once.
	CredentialsRefused bool
	// Started, when set, is when the run began: the outcome is dropped when the connection
	// changed since (its credentials may be new), and the next run is due at once.
	Started time.Time
	// At is when the run ended; Next when the probes are due again.
	At, Next time.Time
}

// probeDue is the condition of a connection whose probes are due: ready, and never probed,
// past its next probe time, or changed (new credentials) since it was last probed.
const probeDue = "state = ? AND (next_probe_at IS NULL OR next_probe_at <= ? OR last_probed_at < updated_at)"

// RecordProbe stores the outcome of a probe run in one UPDATE: healthy → health healthy, no
// reason, no failures; failed → one more consecutive failure, the reason, and health
// unhealthy once UnhealthyAfter runs failed in a row or at once when the credentials were
// refused. Only a ready connection records; it reports whether this one did.
func (s *Service) RecordProbe(ctx context.Context, connectionID string, o ProbeOutcome) (bool, error) {
	at := o.At.UTC()
	next := o.Next.UTC()
	// updated_at is last_probed_at: a connection changed after its last run has
	// last_probed_at < updated_at, which makes its probes due (see probeDue).
	set := map[string]any{"last_probed_at": at, "next_probe_at": next, "updated_at": at}
	switch {
	case o.Healthy:
		set["health"], set["health_reason"], set["probe_failures"] = HealthHealthy, "", 0
	case o.CredentialsRefused:
		set["health"], set["health_reason"] = HealthUnhealthy, truncate(o.Reason)
		set["probe_failures"] = gorm.Expr("probe_failures + 1")
	default:
		// SET expressions read the row as it was: probe_failures + 1 is the new count.
		set["health"] = gorm.Expr("CASE WHEN probe_failures + 1 >= ? THEN ? ELSE health END", UnhealthyAfter, HealthUnhealthy)
		set["health_reason"] = truncate(o.Reason)
		set["probe_failures"] = gorm.Expr("probe_failures + 1")
	}
	q := s.DB.WithContext(ctx).Model(&row{}).Where("id = ? AND state = ?", connectionID, Ready)
	if !o.Started.IsZero() {
		q = q.Where("updated_at <= ?", o.Started.UTC())
	}
	res := q.Updates(set)
	s.Changed(ctx, connectionID)
	if res.Error != nil {
		return false, res.Error
	}
	return res.RowsAffected > 0, nil
}

// ProbeDue reports whether the connection's probes are due (see DueForProbe); it reads the
// database, not the cache.
func (s *Service) ProbeDue(ctx context.Context, connectionID string, now time.Time) (bool, error) {
	var n int64
	err := s.DB.WithContext(ctx).Model(&row{}).Where("id = ?", connectionID).Where(probeDue, Ready, now.UTC()).Count(&n).Error
	return n > 0, err
}

// DueForProbe returns the ids of at most limit ready connections whose probes are due
// (never probed, next probe time passed, or changed since the last run) on a connector
// version that has probes.
func (s *Service) DueForProbe(ctx context.Context, now time.Time, limit int) ([]string, error) {
	db := s.DB.WithContext(ctx)
	var versions []struct {
		ConnectorID      string
		ConnectorVersion int
	}
	if err := db.Model(&row{}).Where(probeDue, Ready, now.UTC()).Distinct("connector_id", "connector_version").
		Order("connector_id, connector_version").Scan(&versions).Error; err != nil {
		return nil, err
	}
	var ids []string
	for _, v := range versions {
		if len(ids) >= limit {
			break
		}
		def, err := s.Definition(ctx, v.ConnectorID, v.ConnectorVersion)
		if err != nil {
			return ids, err
		}
		if len(def.Probes) == 0 {
			continue
		}
		var more []string
		if err := db.Model(&row{}).Where(probeDue, Ready, now.UTC()).
			Where("connector_id = ? AND connector_version = ?", v.ConnectorID, v.ConnectorVersion).
			Order("id").Limit(limit-len(ids)).Pluck("id", &more).Error; err != nil {
			return ids, err
		}
		ids = append(ids, more...)
	}
	return ids, nil
}

// readied returns the connection and, when it is ready, tells OnReady.
func (s *Service) readied(ctx context.Context, connectionID string) (*Connection, error) {
	c, err := s.Get(ctx, connectionID)
	if err == nil && c.State == Ready && s.OnReady != nil {
		s.OnReady(context.WithoutCancel(ctx), c)
	}
	return c, err
}

func (c *Credentials) apiKey() string {
	if c == nil {
		return ""
	}
	return c.APIKey
}

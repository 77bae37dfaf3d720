package connection

import (
	"context"
	"time"

	"github.com/authproxy/authproxy/server/internal/connector/definition"
	"github.com/authproxy/authproxy/server/internal/oauth2"
)

// ReasonAuthorizationNotCompleted is the health reason of a connection whose authorization
// flow was abandoned (see FailStaleSetup).
const ReasonAuthorizationNotCompleted = "authorization not completed"

// RefreshLeadTime is how long before expiry the connector's OAuth2 tokens are refreshed:
// its refreshLeadTime, or definition.DefaultRefreshLeadTime.
func RefreshLeadTime(def *definition.Definition) time.Duration {
	if def != nil && def.Auth.OAuth2 != nil {
		if d := def.Auth.OAuth2.RefreshLeadTime.Duration; d > 0 {
			return d
		}
	}
	return definition.DefaultRefreshLeadTime
}

// RefreshRefused handles a failed token refresh of the connection: when the provider refused
// for good (oauth2.IsPermanent: invalid_grant, invalid_client, ...) the connection is marked
// unhealthy with the reason and it returns true. Other errors are transient and left to the
// caller (it returns false, nil).
func (s *Service) RefreshRefused(ctx context.Context, connectionID string, err error) (bool, error) {
	if err == nil || !oauth2.IsPermanent(err) {
		return false, nil
	}
	reason := "OAuth2 token refresh refused: " + err.Error()
	return true, s.MarkUnhealthy(context.WithoutCancel(ctx), connectionID, reason)
}

// ExpiringTokens returns the ids of ready OAuth2 connections whose token expires before
// now+within, the soonest expiry first, at most limit of them. Connections marked unhealthy
// are left out: their refresh was refused for good, and the proxy still tries on demand.
// Callers pass the longest lead time they honour and check each connector's own.
func (s *Service) ExpiringTokens(ctx context.Context, within time.Duration, limit int) ([]string, error) {
	var ids []string
	err := s.DB.WithContext(ctx).Model(&row{}).
		Where("state = ? AND health <> ? AND token_expires_at IS NOT NULL AND token_expires_at < ?",
			Ready, HealthUnhealthy, time.Now().UTC().Add(within)).
		Order("token_expires_at, id").Limit(limit).Pluck("id", &ids).Error
	return ids, err
}

// FailStaleSetup ends the authorization flows that were abandoned: connections in setup
// for longer than olderThan (the lifetime of the flow's state) become failed and unhealthy
// with ReasonAuthorizationNotCompleted. It returns their ids.
func (s *Service) FailStaleSetup(ctx context.Context, olderThan time.Duration) ([]string, error) {
	cutoff := time.Now().UTC().Add(-olderThan)
	db := s.DB.WithContext(ctx)
	var ids []string
	if err := db.Model(&row{}).Where("state = ? AND updated_at < ?", Setup, cutoff).Order("id").Pluck("id", &ids).Error; err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	// The bound is checked again: a flow that completed meanwhile keeps its state.
	err := db.Model(&row{}).Where("id IN ? AND state = ? AND updated_at < ?", ids, Setup, cutoff).
		Updates(map[string]any{"state": Failed, "health": HealthUnhealthy, "health_reason": ReasonAuthorizationNotCompleted,
			"updated_at": time.Now().UTC()}).Error
	for _, id := range ids {
		s.Changed(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	return ids, nil
}

package keys

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/authproxy/authproxy/server/internal/problem"
)

// DestroyReport says what a destroyed key leaves unreadable.
type DestroyReport struct {
	Key *Key
	// Destroyed is false for a dry run.
	Destroyed bool
	// Unreadable counts the stored values sealed with the key's versions.
	Unreadable []DebtRow
	Total      int64
}

// Destroy crypto-shreds a key: the wrapped material of its versions is deleted (external
// sources are simply never loaded again), its namespace assignments are removed (those
// namespaces fall back to the nearest key up their path), and the key and its versions
// become destroyed, so nothing they sealed opens again. confirm must equal keyID. With
// dryRun nothing changes and the report says what would become unreadable.
func (s *Service) Destroy(ctx context.Context, keyID, confirm string, dryRun bool) (*DestroyReport, error) {
	k, err := s.Get(ctx, keyID)
	if err != nil {
		return nil, err
	}
	if confirm != keyID {
		return nil, problem.InvalidField("confirm", "must repeat the key id %q: destroying a key makes everything it sealed unreadable and cannot be undone", keyID)
	}
	if k.State == StateDestroyed && !dryRun {
		return nil, problem.Conflict("key %s is already destroyed", keyID)
	}
	versions, err := s.Versions(ctx, keyID)
	if err != nil {
		return nil, err
	}
	ids := make(map[string]bool, len(versions))
	for _, v := range versions {
		ids[v.ID] = true
	}
	debt, err := s.Debt(ctx)
	if err != nil {
		return nil, err
	}
	rep := &DestroyReport{Key: k, Unreadable: []DebtRow{}}
	for _, d := range debt {
		if ids[d.KeyVersionID] {
			rep.Unreadable = append(rep.Unreadable, d)
			rep.Total += d.Count
		}
	}
	if dryRun {
		return rep, nil
	}
	err = s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&keyRow{}).Where("id = ? AND state = ?", keyID, StateActive).
			Updates(map[string]any{"state": StateDestroyed, "updated_at": time.Now().UTC()})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return problem.Conflict("key %s is already destroyed", keyID)
		}
		if err := tx.Model(&versionRow{}).Where("key_id = ?", keyID).
			Updates(map[string]any{"state": VersionDestroyed, "wrapped_material": nil}).Error; err != nil {
			return err
		}
		return tx.Where("key_id = ?", keyID).Delete(&assignmentRow{}).Error
	})
	if err != nil {
		return nil, err
	}
	for _, v := range versions {
		if s.Keyring != nil {
			s.Keyring.Forget(v.ID)
		}
	}
	rep.Destroyed = true
	if rep.Key, err = s.Get(ctx, keyID); err != nil {
		return nil, err
	}
	return rep, nil
}

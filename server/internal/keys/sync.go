package keys

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/authproxy/authproxy/server/internal/encrypt"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/store"
)

// Sync checks every active key from an external source (env, file, AWS Secrets Manager)
// and, where the source now holds a different version than the key's current one, records
// it as the new current version (the old one becomes previous and keeps opening through
// the source's previous material) and starts a re-encryption. It returns the versions it
// added; a source that cannot be read is reported in the error and the other keys are
// still synced.
func (s *Service) Sync(ctx context.Context) ([]Version, error) {
	var rows []keyRow
	err := s.DB.WithContext(ctx).
		Where("state = ? AND source_kind IN ?", StateActive, []string{SourceEnv, SourceFile, SourceAWSSecretsManager}).
		Order("id").Find(&rows).Error
	if err != nil {
		return nil, err
	}
	var added []Version
	var errs []error
	for _, k := range rows {
		v, err := s.syncKey(ctx, k)
		if err != nil {
			errs = append(errs, fmt.Errorf("key %s: %w", k.ID, err))
			continue
		}
		if v != nil {
			added = append(added, *v)
		}
	}
	if len(added) > 0 {
		s.requestReencryption(ctx, fmt.Sprintf("sync found %d new key version(s) at external sources", len(added)))
	}
	return added, errors.Join(errs...)
}

// syncKey adds a version to k when its source holds a new one.
func (s *Service) syncKey(ctx context.Context, k keyRow) (*Version, error) {
	src, err := encrypt.ParseSourceConfig(k.SourceKind, store.DecodeMap(k.SourceParams))
	if err != nil {
		return nil, err
	}
	m, err := src.Load(ctx)
	if err != nil {
		return nil, err
	}
	clear(m.Key)
	if len(m.Key) != encrypt.KeySize {
		return nil, fmt.Errorf("the %s source returned %d bytes of key material, want %d", k.SourceKind, len(m.Key), encrypt.KeySize)
	}
	var added *versionRow
	err = s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var cur versionRow
		err := tx.Where("key_id = ? AND state = ?", k.ID, VersionCurrent).Take(&cur).Error
		if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		if err == nil && cur.SourceVersion == m.Version {
			return nil
		}
		var maxN int
		if err := tx.Model(&versionRow{}).Where("key_id = ?", k.ID).Select("COALESCE(MAX(number), 0)").Scan(&maxN).Error; err != nil {
			return err
		}
		if err := tx.Model(&versionRow{}).Where("key_id = ? AND state = ?", k.ID, VersionCurrent).Update("state", VersionPrevious).Error; err != nil {
			return err
		}
		v := versionRow{ID: encrypt.NewKeyVersionID(), KeyID: k.ID, Number: maxN + 1, State: VersionCurrent,
			SourceVersion: m.Version, CreatedAt: time.Now().UTC()}
		if err := tx.Create(&v).Error; err != nil {
			if store.IsUniqueViolation(err) {
				return problem.Conflict("key %s was synced concurrently", k.ID)
			}
			return err
		}
		added = &v
		return nil
	})
	if err != nil || added == nil {
		return nil, err
	}
	v := toVersion(*added)
	return &v, nil
}

// Package keys manages namespace encryption keys for application-level encryption: keys
// and their versions, which namespace uses which key, and sealing and opening values of
// registered encrypted columns (see package encrypt).
//
// Generated and inline key versions are stored wrapped (encrypt.Wrap) with the global
// root key, not with the key of the parent namespace: rotating a namespace key then never
// has to re-wrap the keys of its subtree. Keys from external sources (env, file, AWS
// Secrets Manager) store no material; each version records the source's
// Material.Version, and the material is loaded from the source when needed.
package keys

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"

	"gorm.io/gorm"

	"github.com/authproxy/authproxy/server/internal/encrypt"
	"github.com/authproxy/authproxy/server/internal/id"
	"github.com/authproxy/authproxy/server/internal/namespace"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/store"
)

// IDPrefix starts every key id.
const IDPrefix = "key"

// Source kinds of a key.
const (
	SourceGenerated         = "generated"
	SourceInline            = "inline"
	SourceEnv               = encrypt.SourceEnv
	SourceFile              = encrypt.SourceFile
	SourceAWSSecretsManager = encrypt.SourceAWSSecretsManager
)

// SourceKinds lists the known source kinds.
var SourceKinds = []string{SourceGenerated, SourceInline, SourceEnv, SourceFile, SourceAWSSecretsManager}

// Version states.
const (
	VersionCurrent  = "current"
	VersionPrevious = "previous"
	VersionRetired  = "retired"
	// VersionDestroyed versions belong to a destroyed key: their material is gone.
	VersionDestroyed = "destroyed"
)

// Key states: active keys seal and open; destroyed keys were crypto-shredded.
const (
	StateActive    = "active"
	StateDestroyed = "destroyed"
)

// Key is a namespace encryption key.
type Key struct {
	ID           string
	Namespace    string
	Name         string
	SourceKind   string
	SourceParams map[string]string
	Labels       map[string]string
	Annotations  map[string]string
	State        string
	// CurrentVersion is the number of the current version.
	CurrentVersion int
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Version is one version of a key. Its ID ("kv_…") is what envelopes name.
type Version struct {
	ID            string
	KeyID         string
	Number        int
	State         string
	SourceVersion string
	CreatedAt     time.Time
}

type keyRow struct {
	ID           string `gorm:"primaryKey"`
	Namespace    string
	Name         string
	SourceKind   string
	SourceParams string
	Annotations  string
	State        string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func (keyRow) TableName() string { return "encryption_keys" }

type versionRow struct {
	ID              string `gorm:"primaryKey"`
	KeyID           string
	Number          int
	State           string
	WrappedMaterial *string
	SourceVersion   string
	CreatedAt       time.Time
}

func (versionRow) TableName() string { return "encryption_key_versions" }

type assignmentRow struct {
	Namespace  string `gorm:"primaryKey"`
	KeyID      string
	AssignedAt time.Time
}

func (assignmentRow) TableName() string { return "namespace_keys" }

// Service stores keys and seals and opens values with them. Create it with [New] (or set
// Keyring yourself); a nil Keyring looks every key version up without caching.
type Service struct {
	DB      *gorm.DB
	Root    RootKey
	Keyring *encrypt.Keyring
	// Notify, when set, is told of every new re-encryption job (it enqueues the job for a
	// worker; jobs it loses are found again by the periodic sweep).
	Notify func(ctx context.Context, jobID string)
	// OnError, when set, receives errors of background steps that do not fail the call
	// that caused them (starting a re-encryption after an assignment, say).
	OnError func(error)
	// ReencryptBatch is how many rows a re-encryption reads and commits at a time
	// (default DefaultReencryptBatch); JobLease is how long a worker holds a job between
	// batches before another may take it over (default DefaultJobLease).
	ReencryptBatch int
	JobLease       time.Duration

	// batchHook, for tests, runs inside each batch's transaction before the cursor moves;
	// an error rolls the batch back like a crash would.
	batchHook func(next *jobRow, rewritten int) error
}

// New returns a Service with a Keyring in front of its own key lookup.
func New(db *gorm.DB, root RootKey, opts ...encrypt.KeyringOption) *Service {
	s := &Service{DB: db, Root: root}
	s.Keyring = encrypt.NewKeyring(s, opts...)
	return s
}

// Dependent tells the namespace service that keys live in namespaces.
var Dependent = namespace.Dependent{Table: "encryption_keys", Column: "namespace", Noun: "encryption key(s)"}

// AssignmentDependent tells the namespace service that a namespace with a key assigned is
// not deleted until the key is unassigned.
var AssignmentDependent = namespace.Dependent{Table: "namespace_keys", Column: "namespace", Noun: "key assignment(s)"}

// NotFound is the error for a key that does not exist or that the caller may not see.
func NotFound() error { return problem.NotFound("key not found") }

var nameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$`)

func (s *Service) lookup() encrypt.KeyLookup {
	if s.Keyring != nil {
		return s.Keyring
	}
	return s
}

// validate checks a new key; it returns the external source for external kinds.
func validate(k *Key, inline []byte) (encrypt.Source, []problem.FieldError) {
	var fe []problem.FieldError
	if err := namespace.ValidatePath(k.Namespace); err != nil {
		fe = append(fe, problem.FieldError{Field: "namespace", Message: fmt.Sprintf("namespace path %q %v", k.Namespace, err)})
	}
	if !nameRE.MatchString(k.Name) {
		fe = append(fe, problem.FieldError{Field: "name", Message: fmt.Sprintf("name %q must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", k.Name)})
	}
	var src encrypt.Source
	switch k.SourceKind {
	case SourceGenerated, SourceInline:
		if len(k.SourceParams) > 0 {
			fe = append(fe, problem.FieldError{Field: "sourceParams", Message: fmt.Sprintf("a %s key takes no source parameters", k.SourceKind)})
		}
		if k.SourceKind == SourceInline && len(inline) != encrypt.KeySize {
			fe = append(fe, problem.FieldError{Field: "material", Message: fmt.Sprintf("inline key material must be exactly %d bytes, got %d", encrypt.KeySize, len(inline))})
		}
	case SourceEnv, SourceFile, SourceAWSSecretsManager:
		var err error
		if src, err = encrypt.ParseSourceConfig(k.SourceKind, k.SourceParams); err != nil {
			fe = append(fe, problem.FieldError{Field: "sourceParams", Message: err.Error()})
		}
	default:
		fe = append(fe, problem.FieldError{Field: "sourceKind", Message: fmt.Sprintf("unknown source kind %q (want generated, inline, env, file or aws_secrets_manager)", k.SourceKind)})
	}
	if k.SourceKind != SourceInline && inline != nil {
		fe = append(fe, problem.FieldError{Field: "material", Message: "only inline keys take key material"})
	}
	fe = append(fe, namespace.ValidateFields(k.Labels, k.Annotations)...)
	return src, fe
}

// newVersion builds version number n of a key: generated material, the inline material
// given, or (external kinds) the source's current version. The material is wrapped with
// the root key; external versions store none.
func (s *Service) newVersion(ctx context.Context, kind string, src encrypt.Source, keyID string, n int, inline []byte) (versionRow, error) {
	now := time.Now().UTC()
	v := versionRow{ID: encrypt.NewKeyVersionID(), KeyID: keyID, Number: n, State: VersionCurrent, CreatedAt: now}
	var kv encrypt.KeyVersion
	switch kind {
	case SourceGenerated:
		var err error
		if kv, err = encrypt.GenerateKeyVersion(v.ID); err != nil {
			return versionRow{}, err
		}
	case SourceInline:
		kv = encrypt.KeyVersion{ID: v.ID, Material: append([]byte(nil), inline...)}
	default:
		m, err := src.Load(ctx)
		if err != nil {
			return versionRow{}, problem.InvalidField("sourceParams", "cannot load the key from its %s source: %v", kind, err)
		}
		clear(m.Key)
		if len(m.Key) != encrypt.KeySize {
			return versionRow{}, problem.InvalidField("sourceParams", "the %s source returned %d bytes of key material, want %d", kind, len(m.Key), encrypt.KeySize)
		}
		v.SourceVersion = m.Version
		return v, nil
	}
	defer clear(kv.Material)
	if len(s.Root.Version.Material) != encrypt.KeySize {
		return versionRow{}, errors.New("keys: no root key loaded")
	}
	wrapped, err := encrypt.Wrap(s.Root.Version, kv)
	if err != nil {
		return versionRow{}, err
	}
	v.WrappedMaterial = &wrapped
	return v, nil
}

// Create adds a key to an existing namespace with its first version. inline is the
// material of an inline key (exactly 32 bytes) and must be nil for other kinds. An
// external source is loaded once, to prove it works and to record its version.
func (s *Service) Create(ctx context.Context, k Key, inline []byte) (*Key, error) {
	src, fe := validate(&k, inline)
	if len(fe) > 0 {
		return nil, problem.Invalid(fe...)
	}
	if ok, err := (&namespace.Service{DB: s.DB}).Exists(ctx, k.Namespace); err != nil {
		return nil, err
	} else if !ok {
		return nil, problem.InvalidField("namespace", "namespace %q does not exist", k.Namespace)
	}
	now := time.Now().UTC()
	r := keyRow{ID: id.New(IDPrefix), Namespace: k.Namespace, Name: k.Name, SourceKind: k.SourceKind,
		SourceParams: store.EncodeMap(k.SourceParams), Annotations: store.EncodeMap(k.Annotations),
		State: StateActive, CreatedAt: now, UpdatedAt: now}
	v, err := s.newVersion(ctx, k.SourceKind, src, r.ID, 1, inline)
	if err != nil {
		return nil, err
	}
	err = s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&r).Error; err != nil {
			switch {
			case store.IsUniqueViolation(err):
				return problem.Conflict("a key named %q already exists in namespace %q", k.Name, k.Namespace)
			case store.IsForeignKeyViolation(err):
				return problem.InvalidField("namespace", "namespace %q does not exist", k.Namespace)
			}
			return err
		}
		if err := tx.Create(&v).Error; err != nil {
			return err
		}
		return store.SetLabels(tx, store.LabelKey, r.ID, k.Labels)
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, r.ID)
}

// Get returns the key with this id.
func (s *Service) Get(ctx context.Context, keyID string) (*Key, error) {
	r, err := store.TakeByID[keyRow](s.DB.WithContext(ctx), keyID, NotFound())
	if err != nil {
		return nil, err
	}
	out, err := s.hydrate(ctx, []keyRow{*r})
	if err != nil {
		return nil, err
	}
	return &out[0], nil
}

// Table describes the keys table for the shared list and update helpers.
var Table = store.Namespaced{Table: "encryption_keys", LabelKind: store.LabelKey}

// List returns one page of keys ordered by id and the cursor of the next page.
func (s *Service) List(ctx context.Context, o store.ListOptions) ([]Key, string, error) {
	rows, next, err := store.ListNamespaced(s.DB.WithContext(ctx), Table, o, func(r *keyRow) string { return r.ID })
	if err != nil {
		return nil, "", err
	}
	out, err := s.hydrate(ctx, rows)
	return out, next, err
}

// Update replaces the labels and/or annotations given (nil leaves a field alone).
func (s *Service) Update(ctx context.Context, keyID string, lbls, annotations *map[string]string) (*Key, error) {
	err := namespace.UpdateMeta(ctx, s.DB, Table, keyID, lbls, annotations, NotFound())
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, keyID)
}

// Delete removes a key and its versions. It is refused while the key is assigned to any
// namespace or while any stored value is still sealed with one of its versions, unless the
// key was destroyed (its values are unreadable anyway).
func (s *Service) Delete(ctx context.Context, keyID string) error {
	k, err := s.Get(ctx, keyID)
	if err != nil {
		return err
	}
	versions, err := s.Versions(ctx, keyID)
	if err != nil {
		return err
	}
	var used int64
	// A destroyed key opens nothing any more, so values it sealed do not hold it back.
	if len(versions) > 0 && k.State != StateDestroyed {
		debt, err := s.Debt(ctx)
		if err != nil {
			return err
		}
		for _, d := range debt {
			for _, v := range versions {
				if d.KeyVersionID == v.ID {
					used += d.Count
				}
			}
		}
	}
	if used > 0 {
		return problem.Conflict("key %s still seals %d stored value(s); assign another key and re-encrypt them first", keyID, used)
	}
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var assigned []string
		if err := tx.Model(&assignmentRow{}).Where("key_id = ?", keyID).Order("namespace").Pluck("namespace", &assigned).Error; err != nil {
			return err
		}
		if len(assigned) > 0 {
			return problem.Conflict("key %s is assigned to namespace(s) %v; unassign it first", keyID, assigned)
		}
		if err := tx.Where("key_id = ?", keyID).Delete(&versionRow{}).Error; err != nil {
			return err
		}
		res := tx.Where("id = ?", keyID).Delete(&keyRow{})
		if res.Error != nil {
			if store.IsForeignKeyViolation(res.Error) { // assigned meanwhile
				return problem.Conflict("key %s is assigned to a namespace; unassign it first", keyID)
			}
			return res.Error
		}
		if res.RowsAffected == 0 {
			return NotFound()
		}
		for _, v := range versions {
			if s.Keyring != nil {
				s.Keyring.Forget(v.ID)
			}
		}
		return store.DeleteLabels(tx, store.LabelKey, keyID)
	})
}

func (s *Service) hydrate(ctx context.Context, rows []keyRow) ([]Key, error) {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	db := s.DB.WithContext(ctx)
	lbls, err := store.LoadLabels(db, store.LabelKey, ids)
	if err != nil {
		return nil, err
	}
	current := map[string]int{}
	if len(ids) > 0 {
		var vs []versionRow
		if err := db.Where("key_id IN ? AND state = ?", ids, VersionCurrent).Find(&vs).Error; err != nil {
			return nil, err
		}
		for _, v := range vs {
			current[v.KeyID] = v.Number
		}
	}
	out := make([]Key, len(rows))
	for i, r := range rows {
		l := lbls[r.ID]
		if l == nil {
			l = map[string]string{}
		}
		out[i] = Key{ID: r.ID, Namespace: r.Namespace, Name: r.Name, SourceKind: r.SourceKind,
			SourceParams: store.DecodeMap(r.SourceParams), Labels: l, Annotations: store.DecodeMap(r.Annotations),
			State: r.State, CurrentVersion: current[r.ID], CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	}
	return out, nil
}

// Versions returns the versions of a key, newest first.
func (s *Service) Versions(ctx context.Context, keyID string) ([]Version, error) {
	if _, err := s.Get(ctx, keyID); err != nil {
		return nil, err
	}
	var rows []versionRow
	if err := s.DB.WithContext(ctx).Where("key_id = ?", keyID).Order("number DESC").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Version, len(rows))
	for i, r := range rows {
		out[i] = toVersion(r)
	}
	return out, nil
}

func toVersion(r versionRow) Version {
	return Version{ID: r.ID, KeyID: r.KeyID, Number: r.Number, State: r.State, SourceVersion: r.SourceVersion, CreatedAt: r.CreatedAt}
}

// Rotate adds a new current version to a generated key (new random material) or an
// inline key (inline, exactly 32 bytes, required); the old current version becomes
// previous and keeps opening the values sealed with it. Keys from external sources rotate
// at their source.
func (s *Service) Rotate(ctx context.Context, keyID string, inline []byte) (*Version, error) {
	k, err := s.Get(ctx, keyID)
	if err != nil {
		return nil, err
	}
	if k.State != StateActive {
		return nil, problem.Conflict("key %s is %s", keyID, k.State)
	}
	switch k.SourceKind {
	case SourceGenerated:
		if inline != nil {
			return nil, problem.InvalidField("material", "a generated key takes no key material; it generates its own")
		}
	case SourceInline:
		if len(inline) != encrypt.KeySize {
			return nil, problem.InvalidField("material", "rotating an inline key needs new material of exactly %d bytes, got %d", encrypt.KeySize, len(inline))
		}
	default:
		return nil, problem.Conflict("key %s comes from a %s source: it rotates at its source; the periodic sync picks up new versions", keyID, k.SourceKind)
	}
	var out versionRow
	err = s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var maxN int
		if err := tx.Model(&versionRow{}).Where("key_id = ?", keyID).Select("COALESCE(MAX(number), 0)").Scan(&maxN).Error; err != nil {
			return err
		}
		v, err := s.newVersion(ctx, k.SourceKind, nil, keyID, maxN+1, inline)
		if err != nil {
			return err
		}
		if err := tx.Model(&versionRow{}).Where("key_id = ? AND state = ?", keyID, VersionCurrent).Update("state", VersionPrevious).Error; err != nil {
			return err
		}
		if err := tx.Create(&v).Error; err != nil {
			if store.IsUniqueViolation(err) {
				return problem.Conflict("key %s was rotated concurrently; try again", keyID)
			}
			return err
		}
		out = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.requestReencryption(ctx, fmt.Sprintf("key %s rotated to version %d", keyID, out.Number))
	v := toVersion(out)
	return &v, nil
}

// DebtFunc counts the stored values still sealed with a key version.
type DebtFunc func(kvID string) (int64, error)

// RetireVersion retires a previous version of a key so that it no longer opens anything.
// It is refused for the current version and while debt reports values still sealed with
// the version; a nil debt counts them with [Service.Debt].
func (s *Service) RetireVersion(ctx context.Context, keyID string, number int, debt DebtFunc) (*Version, error) {
	var r versionRow
	err := s.DB.WithContext(ctx).Where("key_id = ? AND number = ?", keyID, number).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, problem.NotFound("key %s has no version %d", keyID, number)
	}
	if err != nil {
		return nil, err
	}
	switch r.State {
	case VersionCurrent:
		return nil, problem.Conflict("version %d is the current version of key %s; rotate the key first", number, keyID)
	case VersionRetired:
		v := toVersion(r)
		return &v, nil
	}
	if debt == nil {
		debt = func(kvID string) (int64, error) { return s.VersionDebt(ctx, kvID) }
	}
	n, err := debt(r.ID)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		return nil, problem.Conflict("version %d of key %s still seals %d stored value(s); re-encrypt them first", number, keyID, n)
	}
	res := s.DB.WithContext(ctx).Model(&versionRow{}).Where("id = ? AND state = ?", r.ID, VersionPrevious).Update("state", VersionRetired)
	if res.Error != nil {
		return nil, res.Error
	}
	if res.RowsAffected == 0 {
		return nil, problem.Conflict("version %d of key %s changed meanwhile; try again", number, keyID)
	}
	if s.Keyring != nil {
		s.Keyring.Forget(r.ID)
	}
	r.State = VersionRetired
	v := toVersion(r)
	return &v, nil
}

// ancestors returns ns and every ancestor up to root, nearest first.
func ancestors(ns string) []string {
	out := []string{ns}
	for p, ok := namespace.Parent(ns); ok; p, ok = namespace.Parent(p) {
		out = append(out, p)
	}
	return out
}

// Assign makes ns use key keyID, which must belong to ns or one of its ancestors.
// It replaces any key assigned to ns before; values already sealed keep opening with
// their old key version until re-encrypted.
func (s *Service) Assign(ctx context.Context, ns, keyID string) error {
	if err := namespace.ValidatePath(ns); err != nil {
		return problem.InvalidField("namespace", "namespace path %q %v", ns, err)
	}
	k, err := s.Get(ctx, keyID)
	if err != nil {
		return err
	}
	if !namespace.IsWithin(ns, k.Namespace) {
		return problem.InvalidField("keyId", "key %s belongs to namespace %q, which is neither %q nor one of its ancestors", keyID, k.Namespace, ns)
	}
	if k.State != StateActive {
		return problem.Conflict("key %s is %s", keyID, k.State)
	}
	err = s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Table("namespaces").Where("path = ?", ns).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return namespace.NotFound(ns)
		}
		if err := tx.Where("namespace = ?", ns).Delete(&assignmentRow{}).Error; err != nil {
			return err
		}
		err := tx.Create(&assignmentRow{Namespace: ns, KeyID: keyID, AssignedAt: time.Now().UTC()}).Error
		switch {
		case store.IsUniqueViolation(err):
			return problem.Conflict("namespace %q was assigned a key concurrently; try again", ns)
		case store.IsForeignKeyViolation(err):
			return problem.Conflict("namespace %q or key %s was deleted meanwhile", ns, keyID)
		}
		return err
	})
	if err != nil {
		return err
	}
	s.requestReencryption(ctx, fmt.Sprintf("namespace %s assigned key %s", ns, keyID))
	return nil
}

// Unassign removes the key assigned to ns; ns then uses the nearest key up its path.
func (s *Service) Unassign(ctx context.Context, ns string) error {
	res := s.DB.WithContext(ctx).Where("namespace = ?", ns).Delete(&assignmentRow{})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return problem.NotFound("namespace %q has no key assigned", ns)
	}
	s.requestReencryption(ctx, fmt.Sprintf("namespace %s unassigned its key", ns))
	return nil
}

// Assigned returns the id of the key assigned to ns itself, if any.
func (s *Service) Assigned(ctx context.Context, ns string) (string, bool, error) {
	var r assignmentRow
	err := s.DB.WithContext(ctx).Where("namespace = ?", ns).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return r.KeyID, true, nil
}

// EffectiveKey returns the key ns uses: the one assigned to the nearest of ns and its
// ancestors. ok is false when none is assigned up to root: ns uses the global root key.
func (s *Service) EffectiveKey(ctx context.Context, ns string) (keyID string, ok bool, err error) {
	path := ancestors(ns)
	var rows []assignmentRow
	if err := s.DB.WithContext(ctx).Where("namespace IN ?", path).Find(&rows).Error; err != nil {
		return "", false, err
	}
	byNS := make(map[string]string, len(rows))
	for _, r := range rows {
		byNS[r.Namespace] = r.KeyID
	}
	for _, p := range path {
		if k, ok := byNS[p]; ok {
			return k, true, nil
		}
	}
	return "", false, nil
}

// currentVersion returns the key version new values of ns are sealed with.
func (s *Service) currentVersion(ctx context.Context, ns string) (encrypt.KeyVersion, error) {
	keyID, ok, err := s.EffectiveKey(ctx, ns)
	if err != nil {
		return encrypt.KeyVersion{}, err
	}
	if !ok {
		return s.rootCopy(), nil
	}
	var r versionRow
	err = s.DB.WithContext(ctx).Where("key_id = ? AND state = ?", keyID, VersionCurrent).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return encrypt.KeyVersion{}, fmt.Errorf("keys: key %s has no current version", keyID)
	}
	if err != nil {
		return encrypt.KeyVersion{}, err
	}
	return s.lookup().KeyVersion(ctx, r.ID)
}

func (s *Service) rootCopy() encrypt.KeyVersion {
	return encrypt.KeyVersion{ID: s.Root.Version.ID, Material: append([]byte(nil), s.Root.Version.Material...)}
}

// Seal encrypts plaintext for column col of row rowID in namespace ns, with the current
// version of the namespace's effective key, or the root key when it has none.
func (s *Service) Seal(ctx context.Context, ns string, col encrypt.Column, rowID string, plaintext []byte) (string, error) {
	kv, err := s.currentVersion(ctx, ns)
	if err != nil {
		return "", err
	}
	defer clear(kv.Material)
	return encrypt.Seal(kv, plaintext, col.AAD(rowID))
}

// Open decrypts a value stored in column col of row rowID.
func (s *Service) Open(ctx context.Context, col encrypt.Column, rowID, envelope string) ([]byte, error) {
	return encrypt.Open(ctx, s.lookup(), envelope, col.AAD(rowID))
}

// KeyVersion implements [encrypt.KeyLookup]: the root key version, or a namespace key
// version unwrapped with the root key (generated, inline) or loaded from its source and
// checked against the recorded source version (external kinds). Retired and unknown
// versions give an error wrapping [encrypt.ErrUnknownKey].
func (s *Service) KeyVersion(ctx context.Context, kvID string) (encrypt.KeyVersion, error) {
	if kvID == s.Root.Version.ID && kvID != "" {
		return s.rootCopy(), nil
	}
	if p := s.Root.Previous; p != nil && kvID == p.ID {
		return encrypt.KeyVersion{ID: p.ID, Material: append([]byte(nil), p.Material...)}, nil
	}
	var r versionRow
	err := s.DB.WithContext(ctx).Where("id = ?", kvID).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return encrypt.KeyVersion{}, fmt.Errorf("%w: %s", encrypt.ErrUnknownKey, kvID)
	}
	if err != nil {
		return encrypt.KeyVersion{}, fmt.Errorf("keys: look up key version %s: %w", kvID, err)
	}
	if r.State == VersionRetired || r.State == VersionDestroyed {
		return encrypt.KeyVersion{}, fmt.Errorf("%w: %s is %s", encrypt.ErrUnknownKey, kvID, r.State)
	}
	if r.WrappedMaterial != nil {
		kv, err := encrypt.Unwrap(ctx, s.Root.lookup(), r.ID, *r.WrappedMaterial)
		if err != nil {
			return encrypt.KeyVersion{}, fmt.Errorf("keys: unwrap key version %s with root key %s: %w", kvID, s.Root.Version.ID, err)
		}
		return kv, nil
	}
	var k keyRow
	if err := s.DB.WithContext(ctx).Where("id = ?", r.KeyID).Take(&k).Error; err != nil {
		return encrypt.KeyVersion{}, fmt.Errorf("keys: key of version %s: %w", kvID, err)
	}
	src, err := encrypt.ParseSourceConfig(k.SourceKind, store.DecodeMap(k.SourceParams))
	if err != nil {
		return encrypt.KeyVersion{}, fmt.Errorf("keys: key %s: %w", k.ID, err)
	}
	m, err := encrypt.LoadVersion(ctx, src, r.SourceVersion)
	if err != nil {
		return encrypt.KeyVersion{}, fmt.Errorf("keys: key %s version %d: %w", k.ID, r.Number, err)
	}
	if len(m.Key) != encrypt.KeySize {
		clear(m.Key)
		return encrypt.KeyVersion{}, fmt.Errorf("keys: key %s: source returned %d bytes", k.ID, len(m.Key))
	}
	return encrypt.KeyVersion{ID: kvID, Material: m.Key}, nil
}

// DebtRow counts the values of one registered column in one namespace sealed with one key
// version. KeyVersionID is "" for values that are not valid envelopes.
type DebtRow struct {
	Table, Column, Namespace, KeyVersionID string
	Count                                  int64
}

// debtBatch is how many rows Debt reads at a time.
const debtBatch = 500

// Debt counts, for every registered encrypted column, the stored values per namespace and
// key version, reading rows in batches by id and parsing envelope ids in Go (SQL JSON
// functions differ between SQLite and PostgreSQL). Rows are sorted by table, column,
// namespace and key version id.
func (s *Service) Debt(ctx context.Context) ([]DebtRow, error) {
	type k struct{ t, c, ns, kv string }
	counts := map[k]int64{}
	for _, col := range encrypt.Columns() {
		nsExpr := "''"
		if col.NamespaceColumn != "" {
			nsExpr = col.NamespaceColumn
		}
		q := fmt.Sprintf("SELECT %s, %s, %s FROM %s WHERE %s IS NOT NULL AND %s > ? ORDER BY %s LIMIT %d",
			col.IDColumn, nsExpr, col.Column, col.Table, col.Column, col.IDColumn, col.IDColumn, debtBatch)
		after := ""
		for {
			rows, err := s.DB.WithContext(ctx).Raw(q, after).Rows()
			if err != nil {
				return nil, fmt.Errorf("keys: debt of %s.%s: %w", col.Table, col.Column, err)
			}
			n := 0
			for rows.Next() {
				var rowID, ns, val string
				if err := rows.Scan(&rowID, &ns, &val); err != nil {
					rows.Close()
					return nil, fmt.Errorf("keys: debt of %s.%s: %w", col.Table, col.Column, err)
				}
				n++
				after = rowID
				if val == "" {
					continue
				}
				kv, err := encrypt.KeyIDOf(val)
				if err != nil {
					kv = ""
				}
				counts[k{col.Table, col.Column, ns, kv}]++
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return nil, fmt.Errorf("keys: debt of %s.%s: %w", col.Table, col.Column, err)
			}
			if n < debtBatch {
				break
			}
		}
	}
	out := make([]DebtRow, 0, len(counts))
	for key, n := range counts {
		out = append(out, DebtRow{Table: key.t, Column: key.c, Namespace: key.ns, KeyVersionID: key.kv, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.KeyVersionID < b.KeyVersionID
	})
	return out, nil
}

// VersionDebt counts the stored values sealed with key version kvID.
func (s *Service) VersionDebt(ctx context.Context, kvID string) (int64, error) {
	rows, err := s.Debt(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, r := range rows {
		if r.KeyVersionID == kvID {
			n += r.Count
		}
	}
	return n, nil
}

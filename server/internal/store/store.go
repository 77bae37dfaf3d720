// Package store opens the database (SQLite or PostgreSQL through gorm) and applies the
// versioned, forward-only schema migrations. It also holds the query helpers every list
// endpoint shares: label selectors, authorization scopes and cursors.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Drivers.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// PostgresMaxOpenConns bounds the PostgreSQL connections of one process.
const PostgresMaxOpenConns = 20

// Config names the database.
type Config struct {
	// Driver is "sqlite" or "postgres".
	Driver string `yaml:"driver"`
	// DSN is a file path (sqlite) or a connection string (postgres).
	DSN string `yaml:"dsn"`
}

// Open connects to the database described by cfg.
func Open(ctx context.Context, cfg Config) (*gorm.DB, error) {
	gcfg := &gorm.Config{Logger: logger.Discard, NowFunc: func() time.Time { return time.Now().UTC() }}
	var dialector gorm.Dialector
	switch cfg.Driver {
	case SQLite, "":
		if cfg.DSN == "" {
			return nil, errors.New("database: sqlite needs a dsn (a file path)")
		}
		dialector = sqlite.Open(sqliteDSN(cfg.DSN))
	case Postgres:
		if cfg.DSN == "" {
			return nil, errors.New("database: postgres needs a dsn")
		}
		dialector = postgres.Open(cfg.DSN)
	default:
		return nil, fmt.Errorf("database: unknown driver %q (use %q or %q)", cfg.Driver, SQLite, Postgres)
	}
	db, err := gorm.Open(dialector, gcfg)
	if err != nil {
		return nil, fmt.Errorf("database: open %s: %w", cfg.Driver, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	if cfg.Driver == SQLite || cfg.Driver == "" {
		// One writer at a time is what SQLite allows; a single connection avoids
		// "database is locked" under concurrent requests.
		sqlDB.SetMaxOpenConns(1)
	} else {
		// Bounded: a burst of requests waits for a connection instead of exhausting the
		// server's max_connections, which every replica shares.
		sqlDB.SetMaxOpenConns(PostgresMaxOpenConns)
		sqlDB.SetMaxIdleConns(PostgresMaxOpenConns / 2)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		return nil, fmt.Errorf("database: connect %s: %w", cfg.Driver, err)
	}
	return db.WithContext(ctx), nil
}

// sqliteDSN turns a file path into a DSN with foreign keys on, WAL and a busy timeout.
func sqliteDSN(path string) string {
	if strings.HasPrefix(path, "file:") || strings.Contains(path, "?") {
		return path
	}
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(5000)")
	return path + "?" + q.Encode()
}

// IsUniqueViolation reports whether err is a unique-constraint violation on either driver.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLSTATE 23505") ||
		strings.Contains(msg, "duplicate key value")
}

// Ping checks the database is reachable.
func Ping(ctx context.Context, db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// IsForeignKeyViolation reports whether err is a foreign-key violation on either driver.
func IsForeignKeyViolation(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, gorm.ErrForeignKeyViolated) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "FOREIGN KEY constraint failed") || strings.Contains(msg, "SQLSTATE 23503")
}

// EncodeMap stores a string map in a TEXT column as JSON ("{}" when empty).
func EncodeMap(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m) // a map[string]string always marshals
	return string(b)
}

// DecodeMap reads a map stored by EncodeMap; it never returns nil.
func DecodeMap(s string) map[string]string {
	m := map[string]string{}
	_ = json.Unmarshal([]byte(s), &m)
	return m
}

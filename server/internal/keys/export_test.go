package keys

import (
	"gorm.io/gorm"

	"github.com/authproxy/authproxy/server/internal/encrypt"
)

// SetBatchHook installs a function that runs inside every re-encryption batch's
// transaction after its values are written and before the cursor moves; an error rolls
// the batch back as a crash would.
func SetBatchHook(s *Service, f func(table string, rewritten int) error) {
	s.batchHook = func(next *jobRow, n int) error { return f(next.TableName_, n) }
}

// CopyColumn walks col in batches exactly like a re-encryption (read a batch by id, write
// it back with the same compare-and-swap statement in one transaction) but writes each
// value back unchanged, without opening or sealing: the database cost alone, the baseline
// of the re-encryption benchmark. It returns how many values it wrote.
func CopyColumn(s *Service, col encrypt.Column, batch int) (int64, error) {
	var total int64
	after := ""
	for {
		var rows []struct{ ID, Val string }
		q := "SELECT " + col.IDColumn + " AS id, " + col.Column + " AS val FROM " + col.Table +
			" WHERE " + col.Column + " IS NOT NULL AND " + col.IDColumn + " > ? ORDER BY " + col.IDColumn + " LIMIT ?"
		if err := s.DB.Raw(q, after, batch).Scan(&rows).Error; err != nil {
			return total, err
		}
		if len(rows) == 0 {
			return total, nil
		}
		writes := make([]rewrite, len(rows))
		for i, r := range rows {
			writes[i] = rewrite{id: r.ID, old: r.Val, new: r.Val}
		}
		err := s.DB.Transaction(func(tx *gorm.DB) error {
			n, err := compareAndSwap(tx, col, writes)
			total += n
			return err
		})
		if err != nil {
			return total, err
		}
		after = rows[len(rows)-1].ID
		if len(rows) < batch {
			return total, nil
		}
	}
}

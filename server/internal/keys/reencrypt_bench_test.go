package keys_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/authproxy/authproxy/server/internal/encrypt"
	"github.com/authproxy/authproxy/server/internal/keys"
)

// fill stores n values of 64 bytes in root.t1 and root.t1.sub, sealed with the root key,
// inserting 500 rows a statement.
func (e *env) fill(b *testing.B, n int) {
	b.Helper()
	const chunk = 500
	plain := []byte(strings.Repeat("p", 64))
	for start := 0; start < n; start += chunk {
		var sql strings.Builder
		sql.WriteString("INSERT INTO keys_test_secrets (id, namespace, secret) VALUES ")
		var args []any
		for i := start; i < min(start+chunk, n); i++ {
			id := fmt.Sprintf("v%08d", i)
			ns := "root.t1"
			if i%2 == 1 {
				ns = "root.t1.sub"
			}
			v, err := encrypt.Seal(e.keys.Root.Version, plain, secrets.AAD(id))
			if err != nil {
				b.Fatal(err)
			}
			if i > start {
				sql.WriteString(", ")
			}
			sql.WriteString("(?, ?, ?)")
			args = append(args, id, ns, v)
		}
		if err := e.db.Exec(sql.String(), args...).Error; err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReencrypt measures re-encryption throughput: each iteration assigns root.t1
// the other of two generated keys and runs the job that moves every value to it (all n
// values open and seal once). Its baseline, in the same run and on the same rows, is the
// same batched walk and compare-and-swap write without any cryptography
// (keys.CopyColumn). Reported: values/s of each and the ratio re-encryption time /
// baseline time.
func BenchmarkReencrypt(b *testing.B) {
	for _, be := range backends() {
		for _, n := range []int{10_000, 100_000} {
			b.Run(fmt.Sprintf("%s/values=%d", be.name, n), func(b *testing.B) {
				e := open(b, be)
				e.fill(b, n)
				ka := e.create(b, "root.t1", "a", "generated", nil, nil)
				kb := e.create(b, "root.t1", "b", "generated", nil, nil)
				var reenc, base time.Duration
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					k := ka
					if i%2 == 1 {
						k = kb
					}
					if err := e.keys.Assign(e.ctx, "root.t1", k.ID); err != nil {
						b.Fatal(err)
					}
					j, err := e.keys.CurrentJob(e.ctx)
					if err != nil || j == nil || j.State != keys.JobPending {
						b.Fatalf("job %+v %v", j, err)
					}
					b.StartTimer()
					t0 := time.Now()
					if err := e.keys.RunReencryption(e.ctx, j.ID); err != nil {
						b.Fatal(err)
					}
					reenc += time.Since(t0)
					b.StopTimer()
					if j, _ = e.keys.GetJob(e.ctx, j.ID); j.Rewritten != int64(n) {
						b.Fatalf("rewrote %d of %d", j.Rewritten, n)
					}
					t0 = time.Now()
					if c, err := keys.CopyColumn(e.keys, secrets, keys.DefaultReencryptBatch); err != nil || c != int64(n) {
						b.Fatalf("baseline copied %d: %v", c, err)
					}
					base += time.Since(t0)
					b.StartTimer()
				}
				b.StopTimer()
				total := float64(n) * float64(b.N)
				b.ReportMetric(total/reenc.Seconds(), "values/s")
				b.ReportMetric(total/base.Seconds(), "baseline-values/s")
				b.ReportMetric(reenc.Seconds()/base.Seconds(), "x-baseline")
			})
		}
	}
}

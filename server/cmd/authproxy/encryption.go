package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/authproxy/authproxy/sdk"
)

// isTerminal reports whether w is a terminal (a character device), so that progress can
// be redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newEncryption(terminal func(io.Writer) bool) *cobra.Command {
	enc := &cobra.Command{Use: "encryption", Short: "Inspect the encryption of stored values"}
	var (
		flags    settings
		ns       string
		watch    bool
		interval time.Duration
		output   string
	)
	status := &cobra.Command{
		Use:   "status",
		Short: "Show stored encrypted values per namespace, column and key version, and the re-encryption job",
		Long: `Show how many stored values each key version seals, per namespace and column, and the
current re-encryption job with its progress. Values of namespace "" are sealed with the
global root key and are shown as "(root key)".

--watch polls every --interval until the job is done or failed (or there is none), then
prints the final state; it exits non-zero if the job failed. With --output json it
prints only the final state.

The actor, key and admin URL come from --actor/--private-key-file/--admin-url, else
AUTHPROXY_ACTOR, AUTHPROXY_PRIVATE_KEY_FILE and AUTHPROXY_ADMIN_URL, else
~/.authproxy.yaml (actor, privateKeyFile, adminUrl).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("--output %q: want text or json", output)
			}
			if watch && interval <= 0 {
				return fmt.Errorf("--interval %s: must be positive", interval)
			}
			c, server, err := adminClient(flags)
			if err != nil {
				return err
			}
			var params sdk.GetEncryptionStatusParams
			if ns != "" {
				params.Namespace = &ns
			}
			fetch := func(ctx context.Context) (*sdk.EncryptionStatus, error) {
				return fetchEncryptionStatus(ctx, c, server, &params)
			}
			out := cmd.OutOrStdout()
			w := statusWriter{out: out, json: output == "json", tty: terminal(out)}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			if !watch {
				st, err := fetch(ctx)
				if err != nil {
					if ctx.Err() != nil {
						return nil // interrupted: exit cleanly
					}
					return err
				}
				return w.final(st)
			}
			return watchStatus(ctx, w, fetch, interval)
		},
	}
	addSignerFlags(status, &flags)
	f := status.Flags()
	f.StringVar(&flags.AdminURL, "admin-url", "", "admin service base URL (env AUTHPROXY_ADMIN_URL)")
	f.StringVar(&ns, "namespace", "", "only values of this namespace (path such as root.acme)")
	f.BoolVar(&watch, "watch", false, "poll until the re-encryption job is done or failed")
	f.DurationVar(&interval, "interval", time.Second, "poll interval for --watch")
	f.StringVarP(&output, "output", "o", "text", "text or json")
	enc.AddCommand(status)
	return enc
}

// fetchEncryptionStatus calls the admin service and turns every failure into a one-line
// error naming the status and the problem's detail.
func fetchEncryptionStatus(ctx context.Context, c *sdk.ClientWithResponses, server string, params *sdk.GetEncryptionStatusParams) (*sdk.EncryptionStatus, error) {
	resp, err := c.GetEncryptionStatusWithResponse(ctx, params)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, fmt.Errorf("cannot reach the admin service at %s: %v", server, ue.Err)
		}
		return nil, fmt.Errorf("admin service at %s: unreadable response: %v", server, err)
	}
	if resp.JSON200 != nil {
		return resp.JSON200, nil
	}
	return nil, responseError(resp.StatusCode(), resp.ApplicationproblemJSONDefault, resp.Body)
}

// responseError describes a response other than the expected one: its status and the
// problem's detail, else its title, else the start of its body.
func responseError(code int, p *sdk.Problem, body []byte) error {
	msg := ""
	switch {
	case p != nil && p.Detail != nil && *p.Detail != "":
		msg = *p.Detail
	case p != nil && p.Title != "":
		msg = p.Title
	default:
		msg = oneLine(string(body), 200)
	}
	if msg == "" {
		msg = "empty response"
	}
	status := fmt.Sprintf("%d", code)
	if t := http.StatusText(code); t != "" {
		status += " " + t
	}
	hint := ""
	if code == http.StatusUnauthorized {
		hint = " (check the actor and its private key file)"
	}
	return fmt.Errorf("admin service answered %s: %s%s", status, msg, hint)
}

// oneLine collapses whitespace and control characters and truncates s to n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return s
}

// jobActive reports whether a job is still to be waited for.
func jobActive(j *sdk.ReencryptionJob) bool {
	return j != nil && (j.State == sdk.ReencryptionJobPending || j.State == sdk.ReencryptionJobRunning)
}

// watchStatus polls until the job is no longer pending or running, showing its progress
// line on each change (in place on a terminal), then prints the final state.
func watchStatus(ctx context.Context, w statusWriter, fetch func(context.Context) (*sdk.EncryptionStatus, error), interval time.Duration) error {
	last := ""
	endLine := func() {
		if w.tty && last != "" {
			fmt.Fprintln(w.out)
		}
	}
	for {
		st, err := fetch(ctx)
		if err != nil {
			endLine()
			if ctx.Err() != nil {
				return nil // interrupted: exit cleanly
			}
			return err
		}
		if !jobActive(st.Reencryption) {
			endLine()
			if err := w.final(st); err != nil {
				return err
			}
			if j := st.Reencryption; j != nil && j.State == sdk.ReencryptionJobFailed {
				msg := "no error recorded"
				if j.Error != nil && *j.Error != "" {
					msg = oneLine(*j.Error, 1000)
				}
				return fmt.Errorf("re-encryption %s failed: %s", j.Id, msg)
			}
			return nil
		}
		if !w.json {
			line := jobLine(*st.Reencryption)
			switch {
			case w.tty:
				pad := ""
				if n := len([]rune(last)) - len([]rune(line)); n > 0 {
					pad = strings.Repeat(" ", n)
				}
				fmt.Fprint(w.out, "\r"+line+pad)
				last = line
			case line != last:
				fmt.Fprintln(w.out, line)
				last = line
			}
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			endLine()
			return nil
		case <-t.C:
		}
	}
}

// statusWriter prints an EncryptionStatus as text or JSON.
type statusWriter struct {
	out  io.Writer
	json bool
	tty  bool
}

// final prints st: indented JSON, or the table and the job line.
func (w statusWriter) final(st *sdk.EncryptionStatus) error {
	if w.json {
		b, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w.out, string(b))
		return err
	}
	return writeStatusText(w.out, st)
}

// writeStatusText prints the table of values and, when there is one, the job line.
func writeStatusText(out io.Writer, st *sdk.EncryptionStatus) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tTABLE.COLUMN\tKEY VERSION\tVALUES")
	for _, r := range st.Items {
		ns := r.Namespace
		if ns == "" {
			ns = "(root key)"
		}
		kv := r.KeyVersionId
		if kv == "" {
			kv = "(not an envelope)"
		}
		fmt.Fprintf(tw, "%s\t%s.%s\t%s\t%d\n", ns, r.Table, r.Column, kv, r.Count)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(st.Items) == 0 {
		fmt.Fprintln(out, "(no encrypted values)")
	}
	if j := st.Reencryption; j != nil {
		fmt.Fprintln(out)
		fmt.Fprintln(out, jobLine(*j))
		if j.State == sdk.ReencryptionJobFailed && j.Error != nil && *j.Error != "" {
			fmt.Fprintln(out, "  error: "+oneLine(*j.Error, 1000))
		}
	}
	return nil
}

// jobLine is one line about a re-encryption job: id, state, reason and, while it is
// pending or running, its progress bar.
func jobLine(j sdk.ReencryptionJob) string {
	var b strings.Builder
	fmt.Fprintf(&b, "re-encryption %s: %s", j.Id, j.State)
	if j.Reason != "" {
		fmt.Fprintf(&b, " (%s)", oneLine(j.Reason, 200))
	}
	switch j.State {
	case sdk.ReencryptionJobPending, sdk.ReencryptionJobRunning:
		b.WriteString("  ")
		b.WriteString(progressLine(j.Scanned, j.Total, j.Rewritten, j.Unreadable, false))
		if j.Table != nil && j.Column != nil && *j.Table != "" {
			fmt.Fprintf(&b, "  at %s.%s", *j.Table, *j.Column)
		}
	default:
		fmt.Fprintf(&b, "  scanned %d, rewritten %d, unreadable %d", j.Scanned, j.Rewritten, j.Unreadable)
		if j.FinishedAt != nil {
			fmt.Fprintf(&b, ", finished %s", j.FinishedAt.UTC().Format(time.RFC3339))
		}
	}
	return b.String()
}

const progressWidth = 20

// progressLine renders progress as
//
//	[##########----------]  52%  5200/10000 values  (rewritten 5100, unreadable 0)
//
// The percentage is scanned/total capped at 100%; with total 0 it is 100% when done and
// 0% otherwise.
func progressLine(scanned, total, rewritten, unreadable int64, done bool) string {
	var pct int64
	switch {
	case total <= 0:
		if done {
			pct = 100
		}
	case scanned >= total:
		pct = 100
	case scanned > 0:
		pct = scanned * 100 / total
	}
	filled := int(pct) * progressWidth / 100
	bar := strings.Repeat("#", filled) + strings.Repeat("-", progressWidth-filled)
	return fmt.Sprintf("[%s] %3d%%  %d/%d values  (rewritten %d, unreadable %d)", bar, pct, scanned, total, rewritten, unreadable)
}

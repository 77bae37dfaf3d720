package httpapi

import (
	"net/http"
	"testing"

	"github.com/authproxy/authproxy/server/internal/api"
	"github.com/authproxy/authproxy/server/internal/requestlog"
)

func TestToAPIRecordedMessage(t *testing.T) {
	euro := "€" // 3 bytes
	for name, tc := range map[string]struct {
		m        requestlog.Message
		enc      api.RecordedMessageEncoding
		body     string
		omitNote bool
	}{
		"text":                  {requestlog.Message{Body: []byte(`{"a":1}`), Size: 7}, api.EncodingText, `{"a":1}`, false},
		"binary":                {requestlog.Message{Body: []byte{0xff, 0, 0xfe}, Size: 3}, api.EncodingBase64, "/wD+", false},
		"cut character":         {requestlog.Message{Body: []byte("ab" + euro[:2]), Size: 9, Truncated: true}, api.EncodingText, "ab", false},
		"cut but not truncated": {requestlog.Message{Body: []byte("ab" + euro[:2]), Size: 4}, api.EncodingBase64, "YWLigg==", false},
		"omitted":               {requestlog.Message{Size: 5, Omitted: requestlog.OmitNotJSON, Header: http.Header{"A": {"1"}}}, api.EncodingText, "", true},
	} {
		t.Run(name, func(t *testing.T) {
			got := toAPIRecordedMessage(&tc.m)
			if got.Encoding != tc.enc || got.Body != tc.body || got.Size != tc.m.Size || got.Truncated != tc.m.Truncated || got.Headers == nil {
				t.Errorf("got %+v", got)
			}
			if (got.Omitted != nil && *got.Omitted == tc.m.Omitted) != tc.omitNote || len(got.Headers) != len(tc.m.Header) {
				t.Errorf("omitted %v, headers %v", got.Omitted, got.Headers)
			}
		})
	}
}

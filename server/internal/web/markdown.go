package web

import (
	"bytes"
	"html/template"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// md renders connector descriptions. Raw HTML in the source is dropped and links or images
// with dangerous schemes (javascript:, vbscript:, data: other than images) lose their URL:
// goldmark does both unless told it is unsafe, which it never is here.
var md = goldmark.New(goldmark.WithExtensions(extension.Linkify, extension.Strikethrough, extension.Table))

// renderMarkdown turns a connector's Markdown description into HTML safe to embed.
func renderMarkdown(src string) template.HTML {
	var buf bytes.Buffer
	if err := md.Convert([]byte(src), &buf); err != nil {
		return template.HTML(template.HTMLEscapeString(src))
	}
	return template.HTML(buf.String()) //nolint:gosec // goldmark escapes text and drops raw HTML (no WithUnsafe)
}

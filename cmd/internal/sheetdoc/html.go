package sheetdoc

import (
	"bytes"
	"fmt"
	"html/template"
)

// htmlTmpl is the sheet as a page: on screen a sheet of paper, in print
// one A4 page with the margins of the .docx. It is a whole document, so
// the workspace can serve it as it is or embed its body.
var htmlTmpl = template.Must(template.New("sheet.html").Parse(`<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{{.V.Number}} {{.Title}}</title>
<style>
@page { size: A4; margin: 37mm 26mm 35mm 28mm; }
body { margin: 0; background: #eee; font-family: "仿宋_GB2312", "仿宋", FangSong, STFangsong, "Noto Serif CJK SC", serif; font-size: 14pt; color: #000; }
.sheet { width: 156mm; min-height: 225mm; margin: 10mm auto; padding: 37mm 26mm 35mm 28mm; background: #fff; box-sizing: content-box; }
.red { text-align: center; color: #e00; font-family: "方正小标宋简体", "方正小标宋_GBK", "华文中宋", "宋体", "Noto Serif CJK SC", serif; font-size: 30pt; letter-spacing: 2pt; padding-bottom: 4mm; border-bottom: 2.5pt solid #e00; margin: 0; }
.number { text-align: center; margin: 4mm 0 6mm; }
h1 { text-align: center; font-family: "方正小标宋简体", "方正小标宋_GBK", "华文中宋", "宋体", "Noto Serif CJK SC", serif; font-size: 22pt; font-weight: normal; margin: 2mm 0; }
.grade { text-align: center; font-family: "黑体", SimHei, "Noto Sans CJK SC", sans-serif; margin: 0 0 6mm; }
.grade.red-grade { color: #e00; }
table { width: 100%; border-collapse: collapse; border: 1pt solid #000; }
th, td { border: 0.75pt solid #000; padding: 2mm 3mm; vertical-align: middle; line-height: 1.45; }
th { width: 24%; font-family: "黑体", SimHei, "Noto Sans CJK SC", sans-serif; font-weight: normal; text-align: center; }
.sign { text-align: right; margin: 14mm 8mm 0 0; line-height: 1.6; }
.withdrawn { color: #e00; }
@media print {
  body { background: none; }
  .sheet { width: auto; min-height: 0; margin: 0; padding: 0; }
  /* compact enough that a 督办要求 of some 200 characters still leaves
     the signature on the one page */
  .red { font-size: 26pt; padding-bottom: 3mm; }
  .number { margin: 3mm 0 4mm; }
  .grade { margin-bottom: 4mm; }
  th, td { padding: 1.5mm 3mm; line-height: 1.35; }
  .sign { margin-top: 8mm; }
  table, tr, .sign { page-break-inside: avoid; }
}
</style>
</head>
<body>
<div class="sheet">
<p class="red">{{.V.Office}}</p>
<p class="number">{{.V.Number}}</p>
<h1>{{.Title}}</h1>
<p class="grade{{if .Red}} red-grade{{end}}">{{.V.GradeLine}}{{if .V.Withdrawn}}<span class="withdrawn">（已撤销）</span>{{end}}</p>
<table>
{{range .V.Rows}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>
{{end}}</table>
<p class="sign">{{.V.Office}}<br>{{.V.Date}}</p>
</div>
</body>
</html>
`))

// HTML returns the sheet as a printable page.
func HTML(v View) ([]byte, error) {
	var b bytes.Buffer
	if err := htmlTmpl.Execute(&b, struct {
		V     View
		Title string
		Red   bool
	}{v, Title, v.Grade == "红"}); err != nil {
		return nil, fmt.Errorf("sheet %s: html: %w", v.Number, err)
	}
	return b.Bytes(), nil
}

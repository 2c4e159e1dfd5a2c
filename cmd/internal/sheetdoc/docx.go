package sheetdoc

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"text/template"
	"time"
)

// The .docx is the smallest WordprocessingML package Word, WPS and
// LibreOffice open alike: content types, the package relationship, the
// document, its styles and a font table naming each font's fallbacks
// (w:altName; the fonts are the reader's, never embedded). The page is A4
// with the margins of GB/T 9704 (上37 下35 左28 右26 mm).

// fontTitle and fontBody are the fonts the office's documents use; the
// font table names the fallbacks a machine without them substitutes.
const (
	fontTitle = "方正小标宋简体"
	fontBody  = "仿宋_GB2312"
	fontHei   = "黑体"
)

// docxTime is the fixed modification time of every part, so that the same
// sheet gives the same bytes.
var docxTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const contentTypes = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/><Override PartName="/word/fontTable.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.fontTable+xml"/></Types>`

const packageRels = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`

const documentRels = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/fontTable" Target="fontTable.xml"/></Relationships>`

const styles = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:docDefaults><w:rPrDefault><w:rPr><w:rFonts w:ascii="` + fontBody + `" w:eastAsia="` + fontBody + `" w:hAnsi="` + fontBody + `" w:cs="` + fontBody + `"/><w:sz w:val="28"/><w:szCs w:val="28"/><w:lang w:val="en-US" w:eastAsia="zh-CN"/></w:rPr></w:rPrDefault><w:pPrDefault><w:pPr><w:spacing w:after="0" w:line="400" w:lineRule="exact"/></w:pPr></w:pPrDefault></w:docDefaults><w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style><w:style w:type="table" w:default="1" w:styleId="TableNormal"><w:name w:val="Normal Table"/><w:tblPr><w:tblCellMar><w:left w:w="108" w:type="dxa"/><w:right w:w="108" w:type="dxa"/></w:tblCellMar></w:tblPr></w:style></w:styles>`

// fontTable names each font with the fallbacks of an office machine
// without it (the altName list is what Word and WPS try next).
const fontTable = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:fonts xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:font w:name="` + fontTitle + `"><w:altName w:val="方正小标宋_GBK,华文中宋,宋体,Noto Serif CJK SC"/><w:charset w:val="86"/><w:family w:val="roman"/></w:font><w:font w:name="` + fontBody + `"><w:altName w:val="仿宋,FangSong,STFangsong,Noto Serif CJK SC"/><w:charset w:val="86"/><w:family w:val="modern"/></w:font><w:font w:name="` + fontHei + `"><w:altName w:val="SimHei,STHeiti,Noto Sans CJK SC"/><w:charset w:val="86"/><w:family w:val="swiss"/></w:font></w:fonts>`

// documentTmpl is word/document.xml. x escapes text for XML.
var documentTmpl = template.Must(template.New("document.xml").Funcs(template.FuncMap{"x": xmlText}).Parse(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>
<w:p><w:pPr><w:jc w:val="center"/><w:spacing w:before="0" w:after="120" w:line="800" w:lineRule="exact"/><w:pBdr><w:bottom w:val="single" w:sz="24" w:space="8" w:color="FF0000"/></w:pBdr></w:pPr><w:r><w:rPr><w:rFonts w:ascii="{{.TitleFont}}" w:eastAsia="{{.TitleFont}}" w:hAnsi="{{.TitleFont}}"/><w:color w:val="FF0000"/><w:spacing w:val="20"/><w:sz w:val="64"/><w:szCs w:val="64"/></w:rPr><w:t>{{x .V.Office}}</w:t></w:r></w:p>
<w:p><w:pPr><w:jc w:val="center"/><w:spacing w:before="120" w:after="240"/></w:pPr><w:r><w:t>{{x .V.Number}}</w:t></w:r></w:p>
<w:p><w:pPr><w:jc w:val="center"/><w:spacing w:before="120" w:after="120" w:line="640" w:lineRule="exact"/></w:pPr><w:r><w:rPr><w:rFonts w:ascii="{{.TitleFont}}" w:eastAsia="{{.TitleFont}}" w:hAnsi="{{.TitleFont}}"/><w:sz w:val="44"/><w:szCs w:val="44"/></w:rPr><w:t>{{x .Title}}</w:t></w:r></w:p>
<w:p><w:pPr><w:jc w:val="center"/><w:spacing w:after="240"/></w:pPr><w:r><w:rPr><w:rFonts w:ascii="{{.HeiFont}}" w:eastAsia="{{.HeiFont}}" w:hAnsi="{{.HeiFont}}"/>{{if .Red}}<w:color w:val="FF0000"/>{{end}}</w:rPr><w:t>{{x .V.GradeLine}}</w:t></w:r>{{if .V.Withdrawn}}<w:r><w:rPr><w:color w:val="FF0000"/></w:rPr><w:t>（已撤销）</w:t></w:r>{{end}}</w:p>
<w:tbl><w:tblPr><w:tblW w:w="8844" w:type="dxa"/><w:jc w:val="center"/><w:tblBorders><w:top w:val="single" w:sz="8" w:color="000000"/><w:left w:val="single" w:sz="8" w:color="000000"/><w:bottom w:val="single" w:sz="8" w:color="000000"/><w:right w:val="single" w:sz="8" w:color="000000"/><w:insideH w:val="single" w:sz="4" w:color="000000"/><w:insideV w:val="single" w:sz="4" w:color="000000"/></w:tblBorders><w:tblLayout w:type="fixed"/></w:tblPr><w:tblGrid><w:gridCol w:w="2100"/><w:gridCol w:w="6744"/></w:tblGrid>
{{range .V.Rows}}<w:tr><w:trPr><w:trHeight w:val="680"/></w:trPr><w:tc><w:tcPr><w:tcW w:w="2100" w:type="dxa"/><w:vAlign w:val="center"/></w:tcPr><w:p><w:pPr><w:jc w:val="center"/></w:pPr><w:r><w:rPr><w:rFonts w:ascii="{{$.HeiFont}}" w:eastAsia="{{$.HeiFont}}" w:hAnsi="{{$.HeiFont}}"/><w:sz w:val="28"/></w:rPr><w:t>{{x (index . 0)}}</w:t></w:r></w:p></w:tc><w:tc><w:tcPr><w:tcW w:w="6744" w:type="dxa"/><w:vAlign w:val="center"/></w:tcPr><w:p><w:r><w:t xml:space="preserve">{{x (index . 1)}}</w:t></w:r></w:p></w:tc></w:tr>
{{end}}</w:tbl>
<w:p><w:pPr><w:jc w:val="right"/><w:spacing w:before="360"/><w:ind w:right="640"/></w:pPr><w:r><w:t>{{x .V.Office}}</w:t></w:r></w:p>
<w:p><w:pPr><w:jc w:val="right"/><w:ind w:right="640"/></w:pPr><w:r><w:t>{{x .V.Date}}</w:t></w:r></w:p>
<w:sectPr><w:pgSz w:w="11906" w:h="16838"/><w:pgMar w:top="2098" w:right="1474" w:bottom="1984" w:left="1588" w:header="851" w:footer="992" w:gutter="0"/></w:sectPr>
</w:body></w:document>`))

// xmlText escapes s for an XML text node.
func xmlText(s string) (string, error) {
	var b strings.Builder
	if err := xml.EscapeText(&b, []byte(s)); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Document returns word/document.xml for v (the part the golden test pins).
func Document(v View) ([]byte, error) {
	var b bytes.Buffer
	err := documentTmpl.Execute(&b, struct {
		V                  View
		Title              string
		TitleFont, HeiFont string
		Red                bool
	}{v, Title, fontTitle, fontHei, v.Grade == "红"})
	if err != nil {
		return nil, fmt.Errorf("sheet %s: document.xml: %w", v.Number, err)
	}
	return b.Bytes(), nil
}

// DOCX returns the sheet as a Word file. The same view gives the same bytes.
func DOCX(v View) ([]byte, error) {
	doc, err := Document(v)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, part := range []struct {
		name string
		data []byte
	}{
		{"[Content_Types].xml", []byte(contentTypes)},
		{"_rels/.rels", []byte(packageRels)},
		{"word/document.xml", doc},
		{"word/_rels/document.xml.rels", []byte(documentRels)},
		{"word/styles.xml", []byte(styles)},
		{"word/fontTable.xml", []byte(fontTable)},
	} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: part.name, Method: zip.Deflate, Modified: docxTime})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(part.data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("sheet %s: docx: %w", v.Number, err)
	}
	return b.Bytes(), nil
}

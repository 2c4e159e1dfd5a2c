package daemon

import (
	"fmt"

	"duban/cmd/internal/sheetdoc"
	"duban/notify"
	"duban/tracker"
)

// docxType is the media type of a Word file.
const docxType = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

// sheetOf returns the sheet a sheet notice carries: the instance's sheet
// issued at the notice's time.
func sheetOf(tx tracker.Tx, dl *tracker.Delivery) (*tracker.Sheet, error) {
	for _, y := range []int{dl.At.Year() - 1, dl.At.Year(), dl.At.Year() + 1} {
		ss, err := tracker.SheetsOf(tx, y)
		if err != nil {
			return nil, err
		}
		for i := range ss {
			if ss[i].ID == dl.Instance && ss[i].Issued.Equal(dl.At) {
				return &ss[i], nil
			}
		}
	}
	return nil, fmt.Errorf("notice %s: %w: no sheet of %s issued at %s", dl.Key, tracker.ErrNotFound, dl.Instance, dl.At)
}

// sheetNote is the note of a sheet notice: the number, grade and 限期.
func sheetNote(tx tracker.Tx, dl *tracker.Delivery) (string, error) {
	sh, err := sheetOf(tx, dl)
	if err != nil {
		return "", err
	}
	s := fmt.Sprintf("%s（%s色·%s），限期见附件", sh.Number, sh.Grade, sh.Grade.Label())
	if sh.Withdrawn {
		s += "；该通知单已撤销"
	}
	return s, nil
}

// sheetAttachments returns the .docx of every sheet a sheet notice of
// group carries, named after its number (督〔2026〕3号督办事项通知单.docx).
func (d *Daemon) sheetAttachments(group []*tracker.Delivery) ([]notify.Attachment, error) {
	var out []notify.Attachment
	env := d.Expander().Env
	err := d.store.View(func(tx tracker.Tx) error {
		for _, dl := range group {
			if dl.Level != tracker.LevelSheet {
				continue
			}
			sh, err := sheetOf(tx, dl)
			if err != nil {
				return err
			}
			v, err := sheetdoc.Build(tx, env, sh)
			if err != nil {
				return err
			}
			b, err := sheetdoc.DOCX(v)
			if err != nil {
				return err
			}
			out = append(out, notify.Attachment{Name: sh.Number + sheetdoc.Title + ".docx", ContentType: docxType, Data: b})
		}
		return nil
	})
	return out, err
}

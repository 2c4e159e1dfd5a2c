package trackfile_test

import (
	"errors"
	"strings"
	"testing"

	"duban/tracker/trackfile"
)

const robotUnits = `office: {name: 市政府督查室, email: ducha@example.gov.cn, robot: ducha-group}
people:
  - {id: zhou, name: 周科长, email: zhou@example.gov.cn, mobile: "13800000001", im_id: ou_7d8a6e}
units:
  - {id: mishu, name: 市政府办公室秘书科, head: zhou, robot: mishu-group}
policies:
  - id: standard
    steps:
      - {at: +1wd, every: 1wd, to: [unit, group], level: overdue}
      - {at: limit, to: [unit, office, office_group], level: escalation}
`

// Units and the office name their robots, people carry mobile and im_id,
// and steps send to the roles group and office_group (SPEC §13).
func TestRobotsInTrackingFiles(t *testing.T) {
	b, err := trackfile.Load([]trackfile.File{{Name: "units.yaml", Data: []byte(robotUnits)}}, shanghai, nil,
		trackfile.WithRobots([]string{"ducha-group", "mishu-group"}))
	if err != nil {
		t.Fatal(err)
	}
	if b.Office.Robot != "ducha-group" || b.Units[0].Robot != "mishu-group" {
		t.Errorf("robots: office %q, unit %q", b.Office.Robot, b.Units[0].Robot)
	}
	if p := b.People[0]; p.Mobile != "13800000001" || p.IMID != "ou_7d8a6e" {
		t.Errorf("person: mobile %q, im_id %q", p.Mobile, p.IMID)
	}
	if to := b.Policies[0].Steps[1].To; strings.Join(to, ",") != "unit,office,office_group" {
		t.Errorf("escalation to %v", to)
	}
}

// A robot the configuration does not define is an error naming the
// file, the line and the name; so is a bad mobile.
func TestUnknownRobotIsAnImportErrorWithFileAndLine(t *testing.T) {
	_, err := trackfile.Load([]trackfile.File{{Name: "units.yaml", Data: []byte(robotUnits)}}, shanghai, nil,
		trackfile.WithRobots([]string{"ducha-group"}))
	var errs trackfile.Errors
	if !errors.As(err, &errs) || len(errs) != 1 {
		t.Fatalf("got %v, want one error", err)
	}
	if e := errs[0]; e.File != "units.yaml" || e.Line != 5 || !strings.Contains(e.Error(), "mishu-group") || !strings.Contains(e.Error(), "units[0].robot") {
		t.Errorf("error %q (line %d)", e.Error(), e.Line)
	}
	// Without robots in the configuration every robot name is unknown.
	_, err = trackfile.Load([]trackfile.File{{Name: "units.yaml", Data: []byte(robotUnits)}}, shanghai, nil)
	if !errors.As(err, &errs) || len(errs) != 2 || !strings.Contains(errs[0].Error(), "robots") {
		t.Errorf("no robots configured: %v", err)
	}
	bad := strings.Replace(robotUnits, `mobile: "13800000001"`, `mobile: "138-0000 abc"`, 1)
	_, err = trackfile.Load([]trackfile.File{{Name: "units.yaml", Data: []byte(bad)}}, shanghai, nil,
		trackfile.WithRobots([]string{"ducha-group", "mishu-group"}))
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Line != 3 || !strings.Contains(errs[0].Error(), "people[0].mobile") {
		t.Errorf("bad mobile: %v", err)
	}
}

package web

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"duban/cmd/internal/daemon"
	"duban/cmd/internal/ops"
	"duban/cmd/internal/report"
	"duban/tracker"
)

// PageSize is how many rows a board page shows.
const PageSize = 100

// maxItemOptions bounds the item filter's choices.
const maxItemOptions = 500

// The lights of the board (SPEC §10).
const (
	lightPurple = "purple" // 紫: past the hard limit
	lightRed    = "red"    // 红: overdue
	lightYellow = "yellow" // 黄: within the reminder window
	lightGreen  = "green"  // 绿: on track
)

var lightRank = map[string]int{lightPurple: 0, lightRed: 1, lightYellow: 2, lightGreen: 3, "": 4}

var lightLabels = map[string]string{lightPurple: "紫", lightRed: "红", lightYellow: "黄", lightGreen: "绿", "": "—"}

type boardRow struct {
	tracker.Row
	Light, LightLabel  string
	DueText, LimitText string
	LeaderName         string
}

type countRow struct {
	Key, Name                         string
	Total, Purple, Red, Yellow, Green int
}

func (c *countRow) add(light string) {
	c.Total++
	switch light {
	case lightPurple:
		c.Purple++
	case lightRed:
		c.Red++
	case lightYellow:
		c.Yellow++
	case lightGreen:
		c.Green++
	}
}

type option struct {
	Value, Label string
	Selected     bool
}

type boardView struct {
	Rows                 []boardRow
	Totals               countRow
	Units, Leaders       []*countRow
	Page, Pages, Matched int
	PrevURL, NextURL     string
	Q                    string
	UnitOpts, LeaderOpts []option
	StatusOpts, ItemOpts []option
	Error                string
	Daemon               *daemon.Status
	Cluster              *daemon.ClusterStatus // several nodes only
	LeaseUntil           string
	LastPass             string
	NextWake             string
	CalWarn              []string
	CanAct               bool
}

// boardQuery is the board's filters, from the URL.
type boardQuery struct {
	Unit, Leader, Status, Item, Q string
	Page                          int
}

func parseBoardQuery(v url.Values) boardQuery {
	q := boardQuery{Unit: v.Get("unit"), Leader: v.Get("leader"), Status: v.Get("status"), Item: v.Get("item"),
		Q: strings.TrimSpace(v.Get("q"))}
	q.Page, _ = strconv.Atoi(v.Get("page"))
	q.Page = max(q.Page, 1)
	return q
}

func (q boardQuery) url(page int) string {
	v := url.Values{}
	for k, s := range map[string]string{"unit": q.Unit, "leader": q.Leader, "status": q.Status, "item": q.Item, "q": q.Q} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "/"
	}
	return "/?" + v.Encode()
}

// board is the 看板: the instances the account sees, most urgent first,
// with lights, counts per unit and per leader, filters, and the daemon's
// status.
func (s *Server) board(w http.ResponseWriter, r *http.Request, acc *tracker.Account) {
	q := parseBoardQuery(r.URL.Query())
	v, err := s.loadBoard(acc, q)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if s.d.Clustered() { // this node, the leader, its term and lease (SPEC §14)
		if v.Cluster, err = s.d.ClusterStatus(r.Context()); err != nil {
			s.log.Warn("cluster status", "err", err)
		} else if v.Cluster.Leader != "" {
			v.LeaseUntil = v.Cluster.LeaseExpires.In(s.d.Config().Location).Format("2006-01-02 15:04:05")
		}
	}
	s.render(w, r, http.StatusOK, "board", acc, v)
}

func (s *Server) loadBoard(acc *tracker.Account, q boardQuery) (*boardView, error) {
	x := s.d.Expander()
	now := s.d.Now()
	v := &boardView{Page: q.Page, Q: q.Q, CanAct: acc.Role.CanAct()}
	statuses, err := ops.ParseStatuses(q.Status)
	if err != nil {
		v.Error = "状态筛选无效"
		statuses = nil
	}
	err = s.d.Store().View(func(tx tracker.Tx) error {
		sc, err := scopeOf(tx, acc)
		if err != nil {
			return err
		}
		if v.Daemon, err = daemon.LoadStatus(tx); err != nil {
			return err
		}
		units := map[string]*tracker.Unit{}
		var unitIDs []string
		if err := tx.Units(func(u *tracker.Unit) error {
			units[u.ID] = u
			if sc.sees(u.ID) {
				unitIDs = append(unitIDs, u.ID)
			}
			return nil
		}); err != nil {
			return err
		}
		leaderNames := map[string]string{}
		people := func(id string) string {
			if id == "" {
				return ""
			}
			if n, ok := leaderNames[id]; ok {
				return n
			}
			n := id
			if p, err := tx.Person(id); err == nil && p.Name != "" {
				n = p.Name
			}
			leaderNames[id] = n
			return n
		}
		f := tracker.Filter{Statuses: statuses}
		if q.Unit != "" && units[q.Unit] != nil && sc.sees(q.Unit) {
			f.Unit = q.Unit
		}
		if q.Item != "" {
			if _, err := tx.Item(q.Item); err == nil {
				f.Item = q.Item
			}
		}
		lights := newLighter(tx, x, now)
		unitCounts := map[string]*countRow{}
		leaderCounts := map[string]*countRow{}
		itemsSeen := map[string]string{} // id → title, for the item filter
		titles := map[string]string{}
		title := func(item string) string {
			t, ok := titles[item]
			if !ok {
				if it, err := tx.Item(item); err == nil {
					t = it.Title
				}
				titles[item] = t
			}
			return t
		}
		// The board reads the instances itself: building a full row
		// (item, deadline texts, overdue working days) for each of
		// thousands of open instances would cost most of the page; only
		// the 100 rows shown get one (Expander.RowOf).
		type entry struct {
			in     *tracker.Instance
			light  string
			leader string
		}
		var entries []entry
		active := f.Statuses == nil
		visit := func(in *tracker.Instance, itemTitle string) error {
			if active && !in.Status.Listed() || !active && !slices.Contains(f.Statuses, in.Status) {
				return nil
			}
			if f.Unit != "" && in.Unit != f.Unit || f.Item != "" && in.Item != f.Item || !sc.sees(in.Unit) {
				return nil
			}
			leader := ""
			if u := units[in.Unit]; u != nil {
				leader = u.Leader
			}
			if q.Leader != "" && leader != q.Leader {
				return nil
			}
			if itemTitle != "" {
				titles[in.Item] = itemTitle
			}
			if q.Q != "" && !strings.Contains(in.ID, q.Q) && !strings.Contains(title(in.Item), q.Q) &&
				!(units[in.Unit] != nil && strings.Contains(units[in.Unit].Name, q.Q)) {
				return nil
			}
			if _, ok := itemsSeen[in.Item]; !ok && len(itemsSeen) < maxItemOptions {
				itemsSeen[in.Item] = ""
			}
			light := ""
			if in.Status.Active() {
				light = lights.light(in)
			}
			uc := unitCounts[in.Unit]
			if uc == nil {
				name := cmp.Or(in.Unit, "（未分办）")
				if u := units[in.Unit]; u != nil {
					name = u.Name
				}
				uc = &countRow{Key: in.Unit, Name: name}
				unitCounts[in.Unit] = uc
			}
			uc.add(light)
			lc := leaderCounts[leader]
			if lc == nil {
				lc = &countRow{Key: leader, Name: cmp.Or(people(leader), "（无分管领导）")}
				leaderCounts[leader] = lc
			}
			lc.add(light)
			v.Totals.add(light)
			entries = append(entries, entry{in: in, light: light, leader: leader})
			return nil
		}
		visitInstance := func(in *tracker.Instance) error { return visit(in, "") }
		switch {
		case f.Item != "":
			err = tx.InstancesOf(f.Item, visitInstance)
		case active || !slices.ContainsFunc(f.Statuses, func(s tracker.Status) bool { return !s.Listed() }):
			// The covering due index: active instances only, in deadline
			// order, with their items' titles; no instance is decoded.
			err = tx.DueEntries(time.Time{}, func(e *tracker.DueEntry) error {
				in := e.In // the entry is valid only during the call
				if in.Limit != nil {
					l := *in.Limit
					in.Limit = &l
				}
				t := ""
				if e.HasItem {
					t = e.Title
				}
				return visit(&in, t)
			})
		default:
			err = tx.Instances(visitInstance)
		}
		if err != nil {
			return err
		}
		slices.SortStableFunc(entries, func(a, b entry) int {
			return cmp.Or(cmp.Compare(lightRank[a.light], lightRank[b.light]), a.in.Deadline.Due.Compare(b.in.Deadline.Due),
				cmp.Compare(a.in.ID, b.in.ID))
		})
		v.Matched = len(entries)
		v.Pages = max(1, (len(entries)+PageSize-1)/PageSize)
		v.Page = min(v.Page, v.Pages)
		for _, e := range entries[(v.Page-1)*PageSize : min(len(entries), v.Page*PageSize)] {
			in, err := tx.Instance(e.in.ID) // the whole instance: the index entry keeps only some fields
			if err != nil {
				return err
			}
			row, err := x.RowOf(tx, in, now)
			if err != nil {
				return err
			}
			v.Rows = append(v.Rows, boardRow{Row: row, Light: e.light, LightLabel: lightLabels[e.light], LeaderName: people(e.leader),
				DueText: report.DeadlineCell(row.Human, row.DueProvisional), LimitText: report.DeadlineCell(row.HumanLimit, row.LimitProvisional)})
		}
		v.Units = sortedCounts(unitCounts)
		v.Leaders = sortedCounts(leaderCounts)

		// Filter choices.
		for _, id := range unitIDs {
			v.UnitOpts = append(v.UnitOpts, option{Value: id, Label: units[id].Name, Selected: id == f.Unit})
		}
		seen := map[string]bool{}
		for _, id := range unitIDs {
			if l := units[id].Leader; l != "" && !seen[l] {
				seen[l] = true
				v.LeaderOpts = append(v.LeaderOpts, option{Value: l, Label: people(l), Selected: l == q.Leader})
			}
		}
		// The item filter offers the items of the rows (at most
		// maxItemOptions): reading every item would cost more than the
		// board itself on a large store.
		for id := range itemsSeen {
			v.ItemOpts = append(v.ItemOpts, option{Value: id, Label: id + " " + title(id), Selected: id == f.Item})
		}
		slices.SortFunc(v.ItemOpts, func(a, b option) int { return cmp.Compare(a.Value, b.Value) })
		return nil
	})
	if err != nil {
		return nil, err
	}
	v.StatusOpts = []option{{Value: "", Label: "待办（默认）", Selected: q.Status == ""}}
	for _, st := range tracker.Statuses {
		v.StatusOpts = append(v.StatusOpts, option{Value: string(st), Label: st.Label(), Selected: q.Status == string(st)})
	}
	v.StatusOpts = append(v.StatusOpts, option{Value: "all", Label: "全部", Selected: q.Status == "all"})
	if v.Page > 1 {
		v.PrevURL = q.url(v.Page - 1)
	}
	if v.Page < v.Pages {
		v.NextURL = q.url(v.Page + 1)
	}
	if v.Daemon != nil {
		v.LastPass = s.timeText(v.Daemon.LastPass)
		v.NextWake = s.timeText(v.Daemon.NextWake)
	}
	v.CalWarn = calendarWarnings(x, now)
	return v, nil
}

func sortedCounts(m map[string]*countRow) []*countRow {
	out := make([]*countRow, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *countRow) int {
		return cmp.Or(cmp.Compare(b.Purple+b.Red, a.Purple+a.Red), cmp.Compare(b.Total, a.Total), cmp.Compare(a.Key, b.Key))
	})
	return out
}

// calendarWarnings says when the holiday arrangement deadlines depend on
// is missing (the daemon logs the same).
func calendarWarnings(x *tracker.Expander, now time.Time) []string {
	today := x.Env.Today(now)
	var out []string
	if !x.Env.Cal.Known(today.Year) {
		out = append(out, strconv.Itoa(today.Year)+" 年节假日安排缺失，期限为暂定")
	}
	if today.Month >= time.November && !x.Env.Cal.Known(today.Year+1) {
		out = append(out, strconv.Itoa(today.Year+1)+" 年节假日安排尚未载入，跨年期限为暂定")
	}
	return out
}

// lighter computes the light of a row: 紫 past the hard limit, 红
// overdue, 黄 within the reminder window (from the policy's earliest
// reminder before the deadline, at least the last day itself), 绿.
type lighter struct {
	tx       tracker.Tx
	x        *tracker.Expander
	now      time.Time
	today    tracker.Date
	byItem   map[string]*tracker.Offset
	byPolicy map[string]*tracker.Offset
	// farFrom: a deadline due after it is green whatever its policy
	// (tracker.Lead of every policy errs on the long side), so its item
	// need not be read.
	farFrom time.Time
}

func newLighter(tx tracker.Tx, x *tracker.Expander, now time.Time) *lighter {
	l := &lighter{tx: tx, x: x, now: now, today: x.Env.Today(now), byItem: map[string]*tracker.Offset{},
		byPolicy: map[string]*tracker.Offset{}}
	pols := []*tracker.Policy{&tracker.DefaultPolicy}
	_ = tx.Policies(func(p *tracker.Policy) error {
		pols = append(pols, p)
		return nil
	})
	l.farFrom = now.Add(tracker.Lead(pols...) + 48*time.Hour)
	return l
}

func (l *lighter) light(in *tracker.Instance) string {
	switch {
	case in.PastLimit(l.now):
		return lightPurple
	case in.Overdue(l.now):
		return lightRed
	}
	if in.Deadline.Due.After(l.farFrom) {
		return lightGreen
	}
	last := in.Deadline.LastDay
	o := l.window(in.Item)
	var yellow bool
	switch {
	case o == nil:
		yellow = !l.today.Before(last)
	case o.Kind == tracker.OffsetHours:
		yellow = !l.now.Before(in.Deadline.Due.Add(time.Duration(o.N)*time.Hour)) || !l.today.Before(last)
	case o.Kind == tracker.OffsetWorkdays:
		yellow = !l.today.Before(l.x.Env.Cal.AddWorkdays(last, o.N))
	default:
		yellow = !l.today.Before(last.AddDays(o.N))
	}
	if yellow {
		return lightYellow
	}
	return lightGreen
}

// window returns the earliest negative offset of the item's policy (nil
// if none).
func (l *lighter) window(item string) *tracker.Offset {
	if o, ok := l.byItem[item]; ok {
		return o
	}
	var o *tracker.Offset
	if it, err := l.tx.Item(item); err == nil {
		if pol, err := tracker.PolicyFor(l.tx, it); err == nil {
			if po, ok := l.byPolicy[pol.ID]; ok {
				o = po
			} else {
				for _, st := range pol.Steps {
					so, err := tracker.ParseOffset(st.At)
					if err != nil || so.N >= 0 || (so.Kind != tracker.OffsetDays && so.Kind != tracker.OffsetWorkdays && so.Kind != tracker.OffsetHours) {
						continue
					}
					if o == nil || earlier(so, *o) {
						so := so
						o = &so
					}
				}
				l.byPolicy[pol.ID] = o
			}
		}
	}
	l.byItem[item] = o
	return o
}

// earlier compares two negative offsets roughly (a working day as 1.4
// days, an hour as 1/24 day).
func earlier(a, b tracker.Offset) bool {
	days := func(o tracker.Offset) float64 {
		switch o.Kind {
		case tracker.OffsetWorkdays:
			return float64(o.N) * 1.4
		case tracker.OffsetHours:
			return float64(o.N) / 24
		}
		return float64(o.N)
	}
	return days(a) < days(b)
}

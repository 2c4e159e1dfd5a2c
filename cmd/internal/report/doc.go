// Package report renders the office's reports for people: the monthly
// bulletin (通报) from tracker.MonthlyReport as a table, JSON, CSV, an
// .xlsx workbook or an HTML page (bulletin.go, templates/report.html.tmpl);
// the weekly summary (每周综合报告) as mail text and HTML (weekly.go); and
// the pieces they share with notices and the CLI: deadlines in words
// (FormatDeadline, DeadlineCell, HumanEvery), the calendar event of a
// deadline for .ics files (DeadlineEvent, written by notify's ICS writer)
// and the CJK-aware RowWriter of the CLI's tables.
//
// It computes nothing the domain does not: the figures come from tracker,
// the mailing from cmd/internal/daemon. It lives under cmd/internal, not
// tracker/, because it is presentation with templates and third-party
// writers (excelize, tablewriter), shared only by the binaries (the CLI,
// the daemon and the web workspace).
package report

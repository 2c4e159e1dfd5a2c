package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"duban/cmd/internal/config"
	"duban/cmd/internal/migrate"
	"duban/tracker/kvstore"
)

func (a *app) migrateCommand() *cobra.Command {
	var from, to, attDir string
	cmd := &cobra.Command{
		Use:   "migrate --to URL|FILE [--from DB] [--attachments DIR]",
		Short: "copy the database between a bbolt file and PostgreSQL and verify the copy (迁移)",
		Long: `Copy the database between a bbolt file and PostgreSQL, with every record,
history sequence, account and attachment, then verify the copy: for each kind
(bucket) the count and a SHA-256 digest of its keys and values in order, and
for the attachments their count and a digest of their contents, computed on
both sides and printed as a table.

  duban migrate --to postgres://duban@db1/duban          # the configured bbolt file into PostgreSQL
  duban migrate --from postgres://duban@db1/duban --to duban.db --attachments attachments

--from defaults to the configured db. Stop the daemon first: a bbolt source
held by a running daemon is refused. The target must be empty (a new file, a
PostgreSQL database without duban's data, an attachments directory without
attachments). Attachments go from web.attachments.dir (or --attachments) into
the database, or from the database into that directory. A copy that fails or
does not verify is removed again and the command exits 1.

A backup written by "duban backup" on PostgreSQL is a bbolt file: restore it
with "duban migrate --from FILE --to URL".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return fmt.Errorf("%w: migrate 需要 --to URL 或 --to FILE", errBadUsage)
			}
			if err := a.loadConfig(); err != nil {
				return err
			}
			if from == "" {
				from = a.cfg.DB
			}
			for flag, db := range map[string]*string{"--from": &from, "--to": &to} {
				if err := config.CheckDB(*db); err != nil {
					return fmt.Errorf("%w: %s: %w", errBadUsage, flag, err)
				}
				if !kvstore.IsURL(*db) {
					*db = a.abs(*db)
				}
			}
			if attDir == "" {
				attDir = a.cfg.Web.Attachments.Dir
			}
			start := time.Now()
			res, err := migrate.Run(cmd.Context(), migrate.Options{
				From: from, To: to, AttachDir: a.abs(attDir), LockTimeout: lockTimeout,
			})
			if res != nil {
				if err := a.printKinds(res); err != nil {
					return err
				}
			}
			switch {
			case errors.Is(err, migrate.ErrUsage), errors.Is(err, migrate.ErrNotEmpty):
				return fmt.Errorf("%w: %w", errBadUsage, err)
			case errors.Is(err, migrate.ErrMismatch):
				return fmt.Errorf("迁移失败：核对不一致（见上表）：%w", err)
			case err != nil:
				return fmt.Errorf("迁移失败：%w", err)
			}
			fmt.Fprintf(a.stdout, "已迁移到 %s，逐类核对一致（用时 %s）\n", to, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&to, "to", "", "the target: a postgres:// URL or a new bbolt file")
	f.StringVar(&from, "from", "", "the source (default: the configured db)")
	f.StringVar(&attDir, "attachments", "", "the attachments directory of the bbolt side (default web.attachments.dir)")
	return cmd
}

// kindLabels name the kinds of records (buckets) in the verification.
var kindLabels = map[string]string{
	"meta": "元数据", "office": "督查室", "people": "人员", "units": "单位", "policies": "催办策略",
	"items": "督办事项", "instances": "办理实例", "history": "办理记录", "due": "时限索引",
	"assigned": "分办索引", "wake": "唤醒时间", "outbox": "发件记录", "queue": "发送队列",
	"users": "账户", "sessions": "会话", "tokens": "令牌", "attachments": "附件",
}

// printKinds prints the verification table: each kind's count and digest
// (its first 16 hex digits) on both sides.
func (a *app) printKinds(res *migrate.Result) error {
	rw := newRowWriter(a.stdout, "table", []string{"类别", "源·条数", "目标·条数", "源·摘要", "目标·摘要", "核对"})
	cell := func(s *migrate.Sum) (string, string) {
		if s == nil {
			return "—", "（无）"
		}
		return strconv.FormatInt(s.Count, 10), hex.EncodeToString(s.Digest[:8])
	}
	for _, k := range res.Kinds {
		label := k.Name
		if l, ok := kindLabels[k.Name]; ok {
			label = l + " " + k.Name
		}
		sn, sd := cell(k.Src)
		dn, dd := cell(k.Dst)
		verdict := "一致"
		if !k.Equal() {
			verdict = "不一致"
		}
		if err := rw.Row(nil, []string{label, sn, dn, sd, dd, verdict}); err != nil {
			return err
		}
	}
	return rw.Close()
}

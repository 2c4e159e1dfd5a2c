package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"duban/cmd/internal/daemon"
	"duban/tracker/kvstore"
)

func (a *app) backupCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "backup FILE",
		Short: "write a consistent copy of the database to FILE (备份), also while the daemon runs",
		Long: `Write a consistent copy of the database to FILE (mode 0600), as of one
moment, while the daemon keeps working. When a daemon answers on the admin
socket it streams the copy from its open database (bbolt Tx.WriteTo in one
read transaction); otherwise the database is opened read-only. The copy is
written to a temporary file beside FILE, synced, opened and checked, and
only then renamed to FILE: FILE never holds a partial copy. Writing onto
the database itself is refused.

To restore: stop the daemon, copy FILE over the database (config "db"),
start the daemon.

On PostgreSQL (db is a postgres:// URL) the command reads one consistent
snapshot itself, on any node, and writes it as a bbolt file with the
attachments inside; restore it with "duban migrate --from FILE --to URL".`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.loadConfig(); err != nil {
				return err
			}
			path := a.abs(args[0])
			start := time.Now()
			n, how, err := a.backup(cmd.Context(), path)
			if errors.Is(err, kvstore.ErrLiveDB) {
				return fmt.Errorf("%w: 备份文件 %s 就是数据库本身，请另选文件", errBadUsage, args[0])
			}
			if err != nil {
				return fmt.Errorf("备份失败：%w", err)
			}
			fmt.Fprintf(a.stdout, "已备份到 %s（%d 字节，%s，用时 %s；副本已通过完整性检查）\n",
				args[0], n, how, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
}

// backup writes the copy to path: inside the daemon (a forwarded command
// line) from its store, through a daemon that answers on the socket, or
// from the database opened read-only. how says which, for the report.
func (a *app) backup(ctx context.Context, path string) (n int64, how string, err error) {
	if a.shared { // run by the daemon itself
		st, ok := a.store.(*kvstore.Store)
		if !ok {
			return 0, "", errors.New("this store cannot be backed up")
		}
		n, err := st.Backup(path)
		return n, "由守护进程写出", err
	}
	if kvstore.IsURL(a.cfg.DB) {
		// PostgreSQL: any node reads one snapshot itself, daemons running
		// or not; the copy is a bbolt file (kvstore.Store.Backup).
		st, err := kvstore.OpenReadOnly(a.cfg.DB, lockTimeout)
		if err != nil {
			return 0, "", err
		}
		defer st.Close()
		n, err := st.Backup(path)
		return n, "读取 PostgreSQL 的一致快照", err
	}
	if n, ok, err := a.backupFromDaemon(ctx, path); ok || err != nil {
		return n, "经守护进程", err
	}
	st, err := kvstore.OpenReadOnly(a.cfg.DB, lockTimeout)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return 0, "", fmt.Errorf("%w: 没有数据库 %s", errBadUsage, a.cfg.DB)
	case errors.Is(err, kvstore.ErrLocked):
		return 0, "", fmt.Errorf("%s 被另一进程占用，而 %s 上没有守护进程应答：%w", a.cfg.DB, a.cfg.Admin.Socket, err)
	case err != nil:
		return 0, "", err
	}
	defer st.Close()
	n, err = st.Backup(path)
	return n, "直接读取数据库", err
}

// backupFromDaemon streams the copy from a daemon on the admin socket and
// writes it here, with this process's permissions and view of the file
// system (a daemon under systemd may have a private /tmp or a read-only
// /home). ok is false when no daemon answers.
func (a *app) backupFromDaemon(ctx context.Context, path string) (n int64, ok bool, err error) {
	sock := a.cfg.Admin.Socket
	client, ok := daemon.AdminClient(sock)
	if !ok {
		return 0, false, nil
	}
	// The request is made once the temporary file exists (and FILE is
	// not the configured database): a FILE that cannot be written costs
	// the daemon nothing.
	n, err = kvstore.SaveBackup(path, a.cfg.DB, func(w io.Writer) (int64, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, daemon.BackupURL, nil)
		if err != nil {
			return 0, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, fmt.Errorf("admin socket %s: %w", sock, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			return 0, fmt.Errorf("admin socket %s: %s: %s", sock, resp.Status, msg)
		}
		if live := resp.Header.Get(daemon.HeaderDB); live != "" && kvstore.SameFile(path, live) {
			return 0, kvstore.ErrLiveDB
		}
		n, err := io.Copy(w, resp.Body)
		if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
			err = fmt.Errorf("the daemon sent %d of %d bytes", n, resp.ContentLength)
		}
		return n, err
	})
	return n, true, err
}

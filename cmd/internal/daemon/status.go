package daemon

import (
	"context"
	"fmt"
	"strings"
	"time"

	"duban/tracker"
	"duban/tracker/kvstore"
)

// Modes of ClusterStatus.
const (
	ModeSingle  = "single"  // one node: a bbolt file
	ModeCluster = "cluster" // any number of nodes on PostgreSQL, one leader
)

// ClusterStatus is what `duban status` and the workspace show (SPEC
// §14): this node, the store, the leader lease as the database sees it,
// and the daemon's last pass.
type ClusterStatus struct {
	Node   string `json:"node"`   // this node (cluster.node)
	Engine string `json:"engine"` // bbolt | postgres
	Mode   string `json:"mode"`   // single | cluster
	// Running says this node's daemon answered (the status came from it);
	// Leading, that it acts as the leader now.
	Running bool `json:"running"`
	Leading bool `json:"leading"`
	// Leader holds the lease ("" when nobody does: resigned or expired),
	// under Term until LeaseExpires, by the database's clock (DBNow).
	Leader       string    `json:"leader"`
	Term         int64     `json:"term"`
	LeaseExpires time.Time `json:"lease_expires,omitzero"`
	DBNow        time.Time `json:"db_now,omitzero"`
	// Daemon is the last pass (nil if the daemon never ran).
	Daemon *Status `json:"daemon"`
}

// ReadClusterStatus reads the status of st for node (the name this node
// has or would have), as a command without a running daemon sees it.
func ReadClusterStatus(ctx context.Context, st *kvstore.Store, node string) (*ClusterStatus, error) {
	cs := &ClusterStatus{Node: node, Engine: st.Engine(), Mode: ModeSingle}
	if err := st.View(func(tx tracker.Tx) (err error) {
		cs.Daemon, err = LoadStatus(tx)
		return err
	}); err != nil {
		return nil, err
	}
	if cs.Engine != kvstore.EnginePostgres {
		return cs, nil
	}
	cs.Mode = ModeCluster
	info, err := readLease(ctx, st)
	if err != nil {
		return nil, err
	}
	cs.Leader, cs.Term, cs.LeaseExpires, cs.DBNow = info.holder, info.term, info.expires.UTC(), info.now.UTC()
	if !info.expires.After(info.now) {
		cs.Leader = "" // expired: nobody leads
	}
	return cs, nil
}

// ClusterStatus is the status as this running daemon sees it.
func (d *Daemon) ClusterStatus(ctx context.Context) (*ClusterStatus, error) {
	node := d.Node()
	if node == "" {
		node = d.Config().Cluster.NodeName()
	}
	cs, err := ReadClusterStatus(ctx, d.store, node)
	if err != nil {
		return nil, err
	}
	cs.Running = true
	_, cs.Leading = d.Leading()
	return cs, nil
}

// Role names this node's part in Chinese: 主节点, 备用节点, or 未运行.
func (cs *ClusterStatus) Role() string {
	switch {
	case !cs.Running:
		return "未运行督办服务"
	case cs.Mode == ModeSingle:
		return "单节点"
	case cs.Leading:
		return "主节点"
	}
	return "备用节点"
}

// Lines are the status in Chinese, one label and value each, for the
// CLI's table and the workspace.
func (cs *ClusterStatus) Lines(loc *time.Location) [][2]string {
	stamp := func(t time.Time) string { return t.In(loc).Format("2006-01-02 15:04:05") }
	engine := "bbolt 数据库文件（单节点）"
	if cs.Engine == kvstore.EnginePostgres {
		engine = "PostgreSQL（多节点，选举主节点）"
	}
	lines := [][2]string{{"本节点", cs.Node}, {"存储", engine}, {"本节点角色", cs.Role()}}
	if cs.Mode == ModeCluster {
		leader := "无（租约空闲，等待接任）"
		if cs.Leader != "" {
			leader = fmt.Sprintf("%s（任期 %d，租约至 %s）", cs.Leader, cs.Term, stamp(cs.LeaseExpires))
		}
		lines = append(lines, [2]string{"主节点", leader}, [2]string{"数据库时间", stamp(cs.DBNow)})
	}
	pass := strings.TrimPrefix(cs.Daemon.Summary(loc), "督办服务：")
	if cs.Daemon != nil && cs.Daemon.Node != "" {
		pass += fmt.Sprintf("（由 %s 于任期 %d 运行）", cs.Daemon.Node, cs.Daemon.Term)
	}
	return append(lines, [2]string{"督办服务", pass})
}

// leaseRow is the leader lease row.
type leaseRow struct {
	holder       string
	term         int64
	expires, now time.Time
}

// Command etcd builds the etcd server pinned in ../versions.env (ETCD_VERSION).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}

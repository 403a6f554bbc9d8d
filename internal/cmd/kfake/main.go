// Command kfake runs franz-go's in-process Kafka broker as a process of its
// own on loopback, for tests of the multi-process topology where no Kafka
// server exists. It prints the broker address and serves until SIGINT or
// SIGTERM. Data lives in memory only.
//
//	go run ./internal/cmd/kfake -port 9092
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 0, "loopback port to listen on (0 picks a free one)")
	flag.Parse()
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if *port != 0 {
		opts = append(opts, kfake.Ports(*port))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfake:", err)
		os.Exit(1)
	}
	defer c.Close()
	for _, a := range c.ListenAddrs() {
		fmt.Println(a)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
}

// Command seed-admin makes sure a platform admin exists in a deployed stack (or any
// endpoints the AWS SDK variables point at). It is what `make run` does locally.
package main

import (
	"context"
	"flag"
	"fmt"
	"opsconsole/shared/signin"
	"os"
)

func main() {
	email := flag.String("email", "", "the admin's email address")
	password := flag.String("password", "", "the admin's password (the pool's policy applies)")
	flag.Parse()
	if *email == "" || *password == "" || os.Getenv("TABLE_NAME") == "" || os.Getenv("USER_POOL_ID") == "" {
		fmt.Fprintln(os.Stderr, "usage: TABLE_NAME=… USER_POOL_ID=… seed-admin -email E -password P")
		os.Exit(2)
	}
	if err := signin.SeedPlatformAdmin(context.Background(), *email, *password); err != nil {
		fmt.Fprintln(os.Stderr, "seed-admin:", err)
		os.Exit(1)
	}
	fmt.Println("platform admin ready:", *email)
}

package coldstart

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"opsconsole/infra/template"
)

// standInAccount is the account of the stand-in values: ARNs and queue URLs that name it
// reach nothing, since every endpoint is the harness's loopback server.
const standInAccount = "000000000000"

// TemplateEnv reads template.yaml and returns, by function folder name, its
// Environment.Variables (Globals' overlaid with its own) with stand-in values: a
// parameter's Ref gives its default, a resource's Ref or GetAtt a well-formed value
// of its type in the stand-in account (a queue's URL, a bucket's name, a key's ARN).
// The variables base sets are left out: base's values win.
func TemplateEnv(root string, base []string) (map[string][]string, error) {
	tpl, err := template.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		return nil, err
	}
	fixed := map[string]bool{}
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		fixed[k] = true
	}
	fns, err := tpl.Functions()
	if err != nil {
		return nil, err
	}
	r := standInResolver(tpl)
	out := map[string][]string{}
	for _, f := range fns {
		var env []string
		for k, v := range f.MergedEnv(tpl.Globals) {
			if fixed[k] {
				continue
			}
			s, err := r.ResolveString(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", f.Name, k, err)
			}
			env = append(env, k+"="+s)
		}
		sort.Strings(env)
		out[f.Name] = env
	}
	return out, nil
}

func standInResolver(tpl *template.Template) template.Resolver {
	pseudo := map[string]string{
		"AWS::Region": "us-east-1", "AWS::AccountId": standInAccount, "AWS::Partition": "aws",
		"AWS::StackName": "coldstart", "AWS::URLSuffix": "amazonaws.com",
	}
	arn := func(id string) string {
		switch tpl.Resources[id].Type {
		case "AWS::KMS::Key":
			return "arn:aws:kms:us-east-1:" + standInAccount + ":key/" + id
		case "AWS::SQS::Queue":
			return "arn:aws:sqs:us-east-1:" + standInAccount + ":" + id
		case "AWS::S3::Bucket":
			return "arn:aws:s3:::" + strings.ToLower(id)
		}
		return "arn:aws:coldstart:us-east-1:" + standInAccount + ":" + id
	}
	return template.Resolver{
		Ref: func(name string) (any, error) {
			if v, ok := pseudo[name]; ok {
				return v, nil
			}
			if p, ok := tpl.Parameters[name]; ok {
				if p.Default == nil {
					return "coldstart-" + name, nil
				}
				return fmt.Sprint(p.Default), nil
			}
			res, ok := tpl.Resources[name]
			if !ok {
				return nil, fmt.Errorf("no parameter or resource %s", name)
			}
			switch res.Type {
			case "AWS::SQS::Queue":
				return "https://sqs.us-east-1.amazonaws.com/" + standInAccount + "/" + name, nil
			case "AWS::S3::Bucket":
				return strings.ToLower(name), nil
			case "AWS::KMS::Key":
				return name, nil
			}
			return "coldstart-" + name, nil
		},
		GetAtt: func(resource, attribute string) (any, error) {
			if _, ok := tpl.Resources[resource]; !ok {
				return nil, fmt.Errorf("no resource %s", resource)
			}
			if attribute == "Arn" {
				return arn(resource), nil
			}
			return "coldstart-" + resource + "-" + attribute, nil
		},
	}
}

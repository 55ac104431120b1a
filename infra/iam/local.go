package iam

import (
	"fmt"

	"opsconsole/infra/local"
	"opsconsole/infra/template"
)

// LocalResolver resolves the template's policy values for the local stack as
// CloudFormation would for a deployed one: parameters (params, else their
// defaults), pseudo parameters, and the resources Bootstrap created. ARNs are built
// in res's region and account, as the Recorder builds those of the calls (DynamoDB
// Local's own table ARNs name another region and account, so they are not used).
func LocalResolver(tpl *template.Template, res *local.Resources, params map[string]string) template.Resolver {
	arn := func(service, resource string) string {
		return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, res.Region, res.AccountID, resource)
	}
	function := func(id string) (string, bool) {
		r, ok := tpl.Resources[id]
		if !ok || r.Type != "AWS::Serverless::Function" {
			return "", false
		}
		if n, ok := r.Properties["FunctionName"].(string); ok {
			return n, true
		}
		// FunctionName is usually !Sub ${AWS::StackName}-<name>; the check needs
		// no function ARN, so the CloudFormation default name stands for any.
		return res.StackName + "-" + id, true
	}
	ref := func(name string) (any, error) {
		switch name {
		case "AWS::Region":
			return res.Region, nil
		case "AWS::AccountId":
			return res.AccountID, nil
		case "AWS::Partition":
			return "aws", nil
		case "AWS::URLSuffix":
			return "amazonaws.com", nil
		case "AWS::StackName":
			return res.StackName, nil
		}
		if p, ok := tpl.Parameters[name]; ok {
			if v, ok := params[name]; ok {
				return v, nil
			}
			if p.Default == nil {
				return nil, fmt.Errorf("parameter %s has no Default and no value was given", name)
			}
			return fmt.Sprint(p.Default), nil
		}
		if t, ok := res.Tables[name]; ok {
			return t.Name, nil
		}
		if id, ok := res.UserPools[name]; ok {
			return id, nil
		}
		if id, ok := res.UserPoolClients[name]; ok {
			return id, nil
		}
		if q, ok := res.Queues[name]; ok {
			return q.URL, nil
		}
		if k, ok := res.KMSKeys[name]; ok {
			return k.ID, nil
		}
		if b, ok := res.Buckets[name]; ok {
			return b.Name, nil
		}
		if n, ok := function(name); ok {
			return n, nil
		}
		return nil, fmt.Errorf("%s is not a parameter or a local resource", name)
	}
	getAtt := func(id, att string) (any, error) {
		if t, ok := res.Tables[id]; ok {
			switch att {
			case "Arn":
				return arn("dynamodb", "table/"+t.Name), nil
			case "StreamArn":
				return t.StreamARN, nil
			}
		}
		if pool, ok := res.UserPools[id]; ok && att == "Arn" {
			return arn("cognito-idp", "userpool/"+pool), nil
		}
		if q, ok := res.Queues[id]; ok && att == "Arn" {
			return q.ARN, nil
		}
		if k, ok := res.KMSKeys[id]; ok && att == "Arn" {
			return k.ARN, nil
		}
		if b, ok := res.Buckets[id]; ok && att == "Arn" {
			return b.ARN, nil
		}
		if n, ok := function(id); ok && att == "Arn" {
			return arn("lambda", "function:"+n), nil
		}
		return nil, fmt.Errorf("%s.%s is not known locally", id, att)
	}
	return template.Resolver{Ref: ref, GetAtt: getAtt}
}

package harness

import (
	"context"
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
)

// Applier sends objects to the API server with server-side apply and
// strict field validation, so that an unknown or duplicated field is an
// error rather than silently dropped.
type Applier struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
	// FieldManager is recorded as the owner of the applied fields.
	FieldManager string
}

// NewApplier builds an Applier on a dynamic client and the cluster's
// discovery information.
func NewApplier(dyn dynamic.Interface, disc discovery.DiscoveryInterface) *Applier {
	cached := memory.NewMemCacheClient(disc)
	return &Applier{
		dyn:          dyn,
		mapper:       restmapper.NewDeferredDiscoveryRESTMapper(cached),
		FieldManager: "augur-e2e",
	}
}

// Apply applies obj. With dryRun, the API server validates and admits the
// object but stores nothing. It returns the object as the server holds it.
func (a *Applier) Apply(ctx context.Context, obj *unstructured.Unstructured,
	dryRun bool) (*unstructured.Unstructured, error) {
	gvk := obj.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		a.mapper.Reset()
		if m, err = a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return nil, fmt.Errorf("mapping %s: %w", gvk, err)
		}
	}
	body, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, fmt.Errorf("encoding %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	var ri dynamic.ResourceInterface = a.dyn.Resource(m.Resource)
	if m.Scope.Name() == "namespace" {
		ri = a.dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
	}
	opts := metav1.PatchOptions{
		FieldManager:    a.FieldManager,
		FieldValidation: metav1.FieldValidationStrict,
		Force:           ptr(true),
	}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	out, err := ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, opts)
	if err != nil {
		mode := "applying"
		if dryRun {
			mode = "validating"
		}
		return nil, fmt.Errorf("%s %s %s/%s: %w", mode, gvk.Kind, obj.GetNamespace(),
			obj.GetName(), err)
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }

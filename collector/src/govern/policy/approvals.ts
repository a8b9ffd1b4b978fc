/** The approval rule for a cost center, from the policy file's `approval` blocks. */
import type { PolicyFile } from 'tokenledger/policy';
import type { ApprovalRule } from '../approvals/service';

const valuesOf = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/**
 * The first policy with an approval block that selects this cost center; failing that, the first
 * one that does not select on cost centers at all (a catch-all rule).
 */
export function approvalRuleFor(file: PolicyFile | undefined, costCenter: string): ApprovalRule | undefined {
  const withApproval = (file?.policies ?? []).filter((p) => p.approval);
  const policy =
    withApproval.find((p) => valuesOf(p.match?.cost_center).includes(costCenter)) ??
    withApproval.find((p) => valuesOf(p.match?.cost_center).length === 0);
  return (
    policy && {
      policy: policy.name,
      aboveUsd: policy.approval!.above_usd,
      approvers: policy.approval!.approvers,
    }
  );
}

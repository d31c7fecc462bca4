"""The documents each claim type needs, told to the customer all at once.

Insurance Law Art. 22: when the documents are incomplete the insurer must tell the
claimant *in one notice* everything that is still needed. So a claim's checklist is
fixed when it is reported; an adjuster may ask again for an item already on it (a
blurred photo, say) but may never add a new one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from backend.domain.types import ClaimType


class ChecklistError(ValueError):
    """A checklist request the rules refuse; `code` is the API error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ChecklistItem:
    code: str
    name: str


ID_CARD = ChecklistItem("id_card", "身份证")
INVOICE = ChecklistItem("invoice", "医疗发票")
ITEMIZED_BILL = ChecklistItem("itemized_bill", "费用明细清单")
DIAGNOSIS_CERTIFICATE = ChecklistItem("diagnosis_certificate", "诊断证明")
DISCHARGE_SUMMARY = ChecklistItem("discharge_summary", "出院小结")
BANK_CARD = ChecklistItem("bank_card", "银行卡")
DRIVING_LICENCE = ChecklistItem("driving_licence", "驾驶证")
VEHICLE_LICENCE = ChecklistItem("vehicle_licence", "行驶证")
ACCIDENT_REPORT = ChecklistItem("accident_report", "事故认定书")
REPAIR_INVOICE = ChecklistItem("repair_invoice", "维修发票")
SCENE_PHOTOS = ChecklistItem("scene_photos", "现场照片")
LOSS_LIST = ChecklistItem("loss_list", "损失清单")
PROOF_OF_OWNERSHIP = ChecklistItem("proof_of_ownership", "财产证明")
ACCIDENT_PROOF = ChecklistItem("accident_proof", "意外事故证明")

# Inpatient medical claims also need DISCHARGE_SUMMARY, inserted before BANK_CARD.
_MEDICAL_OUTPATIENT = (ID_CARD, INVOICE, ITEMIZED_BILL, DIAGNOSIS_CERTIFICATE, BANK_CARD)
_MEDICAL_INPATIENT = (
    ID_CARD,
    INVOICE,
    ITEMIZED_BILL,
    DIAGNOSIS_CERTIFICATE,
    DISCHARGE_SUMMARY,
    BANK_CARD,
)

CHECKLISTS: dict[ClaimType, tuple[ChecklistItem, ...]] = {
    ClaimType.MEDICAL: _MEDICAL_OUTPATIENT,
    ClaimType.AUTO: (
        DRIVING_LICENCE,
        VEHICLE_LICENCE,
        ACCIDENT_REPORT,
        REPAIR_INVOICE,
        SCENE_PHOTOS,
        BANK_CARD,
    ),
    ClaimType.PROPERTY: (ID_CARD, LOSS_LIST, SCENE_PHOTOS, PROOF_OF_OWNERSHIP, BANK_CARD),
    ClaimType.ACCIDENT: (ID_CARD, ACCIDENT_PROOF, DIAGNOSIS_CERTIFICATE, INVOICE, BANK_CARD),
}

ITEM_NAMES: dict[str, str] = {
    item.code: item.name for items in (*CHECKLISTS.values(), _MEDICAL_INPATIENT) for item in items
}


def checklist_for(
    claim_type: ClaimType | str, inpatient: bool = False
) -> tuple[ChecklistItem, ...]:
    """The fixed checklist for a new claim, in the order the customer is told it.

    `inpatient` only matters for medical claims (it adds the discharge summary).
    """
    try:
        kind = ClaimType(claim_type)
    except ValueError:
        known = ", ".join(ClaimType)
        raise ChecklistError(
            "unknown_claim_type",
            f"没有“{claim_type}”这种理赔类型 / unknown claim type {claim_type!r}; known: {known}",
        ) from None
    if kind is ClaimType.MEDICAL and inpatient:
        return _MEDICAL_INPATIENT
    return CHECKLISTS[kind]


def item_name(code: str) -> str:
    """The Chinese name shown to the customer for an item code."""
    try:
        return ITEM_NAMES[code]
    except KeyError:
        raise ChecklistError(
            "unknown_item", f"没有“{code}”这项材料 / unknown checklist item {code!r}"
        ) from None


def missing_items(checklist_codes: Sequence[str], received_codes: Iterable[str]) -> list[str]:
    """Codes still missing, in checklist order (the order the customer was told)."""
    received = set(received_codes)
    return [code for code in checklist_codes if code not in received]


def ensure_on_checklist(checklist_codes: Sequence[str], item_code: str) -> None:
    """Refuse to attach a document to an item this claim's checklist does not have."""
    if item_code not in checklist_codes:
        raise ChecklistError("not_on_checklist", _not_on_checklist_message(item_code, "attach"))


def ensure_can_request(checklist_codes: Sequence[str], requested_codes: Iterable[str]) -> None:
    """Allow an adjuster to ask again only for items already on the claim's checklist.

    Raises ChecklistError `not_on_checklist` naming the first item that is not on it
    (Art. 22: the one-time notice cannot be extended later), or `nothing_requested`
    when the request names no item at all.
    """
    requested = list(requested_codes)
    if not requested:
        raise ChecklistError(
            "nothing_requested",
            "请至少选择一项需要补充的材料 / a request for documents must name at least one item",
        )
    for code in requested:
        if code not in checklist_codes:
            raise ChecklistError("not_on_checklist", _not_on_checklist_message(code, "request"))


def _not_on_checklist_message(code: str, action: str) -> str:
    name = ITEM_NAMES.get(code, code)
    if action == "attach":
        return (
            f"“{name}”不在本案的理赔材料清单上，不能提交到此项 / "
            f"'{code}' is not on this claim's checklist, so no document can be attached to it"
        )
    return (
        f"“{name}”不在本案报案时一次性告知的材料清单上，不能事后追加（《保险法》第二十二条） / "
        f"'{code}' is not on this claim's checklist; items cannot be added after the "
        "one-time notice (Insurance Law Art. 22)"
    )

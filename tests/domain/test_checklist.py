import pytest

from backend.domain.checklist import (
    ChecklistError,
    ChecklistItem,
    checklist_for,
    ensure_can_request,
    ensure_on_checklist,
    item_name,
    missing_items,
)
from backend.domain.types import ClaimType


def pairs(items: tuple[ChecklistItem, ...]) -> list[tuple[str, str]]:
    return [(item.code, item.name) for item in items]


@pytest.mark.parametrize(
    ("claim_type", "inpatient", "expected"),
    [
        (
            ClaimType.MEDICAL,
            False,
            [
                ("id_card", "身份证"),
                ("invoice", "医疗发票"),
                ("itemized_bill", "费用明细清单"),
                ("diagnosis_certificate", "诊断证明"),
                ("bank_card", "银行卡"),
            ],
        ),
        (
            ClaimType.MEDICAL,
            True,
            [
                ("id_card", "身份证"),
                ("invoice", "医疗发票"),
                ("itemized_bill", "费用明细清单"),
                ("diagnosis_certificate", "诊断证明"),
                ("discharge_summary", "出院小结"),
                ("bank_card", "银行卡"),
            ],
        ),
        (
            ClaimType.AUTO,
            False,
            [
                ("driving_licence", "驾驶证"),
                ("vehicle_licence", "行驶证"),
                ("accident_report", "事故认定书"),
                ("repair_invoice", "维修发票"),
                ("scene_photos", "现场照片"),
                ("bank_card", "银行卡"),
            ],
        ),
        (
            ClaimType.PROPERTY,
            False,
            [
                ("id_card", "身份证"),
                ("loss_list", "损失清单"),
                ("scene_photos", "现场照片"),
                ("proof_of_ownership", "财产证明"),
                ("bank_card", "银行卡"),
            ],
        ),
        (
            ClaimType.ACCIDENT,
            False,
            [
                ("id_card", "身份证"),
                ("accident_proof", "意外事故证明"),
                ("diagnosis_certificate", "诊断证明"),
                ("invoice", "医疗发票"),
                ("bank_card", "银行卡"),
            ],
        ),
    ],
)
def test_checklist_per_claim_type(
    claim_type: ClaimType, inpatient: bool, expected: list[tuple[str, str]]
) -> None:
    assert pairs(checklist_for(claim_type, inpatient=inpatient)) == expected


@pytest.mark.parametrize("claim_type", [ClaimType.AUTO, ClaimType.PROPERTY, ClaimType.ACCIDENT])
def test_inpatient_only_changes_medical(claim_type: ClaimType) -> None:
    assert checklist_for(claim_type, inpatient=True) == checklist_for(claim_type)
    assert "discharge_summary" not in [i.code for i in checklist_for(claim_type, inpatient=True)]


def test_claim_type_may_be_given_as_its_string_value() -> None:
    assert checklist_for("auto") == checklist_for(ClaimType.AUTO)


def test_unknown_claim_type_is_refused_by_name() -> None:
    with pytest.raises(ChecklistError) as raised:
        checklist_for("travel")
    assert raised.value.code == "unknown_claim_type"
    assert "travel" in raised.value.message


def test_checklist_items_are_immutable() -> None:
    item = checklist_for(ClaimType.MEDICAL)[0]
    with pytest.raises(AttributeError):
        item.code = "bank_card"  # type: ignore[misc]


def test_every_claim_type_has_a_checklist_ending_with_the_bank_card() -> None:
    # Without the bank card no payout can be made, so every type must ask for it.
    for claim_type in ClaimType:
        assert checklist_for(claim_type)[-1] == ChecklistItem("bank_card", "银行卡")


@pytest.mark.parametrize(
    ("received", "missing"),
    [
        ([], ["id_card", "invoice", "itemized_bill", "diagnosis_certificate", "bank_card"]),
        (["bank_card", "id_card"], ["invoice", "itemized_bill", "diagnosis_certificate"]),
        (["diagnosis_certificate", "invoice", "itemized_bill", "id_card"], ["bank_card"]),
        (["id_card", "invoice", "itemized_bill", "diagnosis_certificate", "bank_card"], []),
        # A document attached twice to one item, or to an item the claim does not
        # have, changes nothing.
        (
            ["id_card", "id_card", "scene_photos"],
            ["invoice", "itemized_bill", "diagnosis_certificate", "bank_card"],
        ),
    ],
)
def test_missing_items_in_checklist_order(received: list[str], missing: list[str]) -> None:
    codes = [item.code for item in checklist_for(ClaimType.MEDICAL)]
    assert missing_items(codes, received) == missing


def test_missing_items_accepts_any_iterable_of_received_codes() -> None:
    codes = ["id_card", "bank_card"]
    assert missing_items(codes, iter({"bank_card"})) == ["id_card"]


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("id_card", "身份证"),
        ("discharge_summary", "出院小结"),
        ("proof_of_ownership", "财产证明"),
        ("accident_proof", "意外事故证明"),
        ("repair_invoice", "维修发票"),
    ],
)
def test_item_name(code: str, name: str) -> None:
    assert item_name(code) == name


def test_item_name_of_unknown_code() -> None:
    with pytest.raises(ChecklistError) as raised:
        item_name("passport")
    assert raised.value.code == "unknown_item"
    assert "passport" in str(raised.value)


MEDICAL_OUTPATIENT = [item.code for item in checklist_for(ClaimType.MEDICAL)]


@pytest.mark.parametrize(
    "requested", [["invoice"], ["invoice", "itemized_bill"], MEDICAL_OUTPATIENT]
)
def test_items_on_the_checklist_may_be_requested_again(requested: list[str]) -> None:
    ensure_can_request(MEDICAL_OUTPATIENT, requested)  # does not raise


def test_adding_a_new_item_after_the_one_time_notice_is_refused() -> None:
    # An outpatient claim was told five items; asking for a discharge summary later
    # would be a second notice, which Art. 22 forbids.
    with pytest.raises(ChecklistError) as raised:
        ensure_can_request(MEDICAL_OUTPATIENT, ["invoice", "discharge_summary"])
    error = raised.value
    assert error.code == "not_on_checklist"
    assert "出院小结" in error.message
    assert "discharge_summary" in error.message
    assert "第二十二条" in error.message
    assert "Art. 22" in error.message
    assert isinstance(error, ValueError)


def test_unknown_item_code_is_named_by_its_code() -> None:
    with pytest.raises(ChecklistError) as raised:
        ensure_can_request(MEDICAL_OUTPATIENT, ["selfie"])
    assert raised.value.code == "not_on_checklist"
    assert "“selfie”" in raised.value.message


def test_a_request_must_name_an_item() -> None:
    with pytest.raises(ChecklistError) as raised:
        ensure_can_request(MEDICAL_OUTPATIENT, [])
    assert raised.value.code == "nothing_requested"


def test_attaching_to_an_item_on_the_checklist() -> None:
    ensure_on_checklist(MEDICAL_OUTPATIENT, "itemized_bill")  # does not raise


def test_attaching_to_an_item_not_on_the_checklist_is_refused() -> None:
    auto = [item.code for item in checklist_for(ClaimType.AUTO)]
    with pytest.raises(ChecklistError) as raised:
        ensure_on_checklist(auto, "invoice")
    assert raised.value.code == "not_on_checklist"
    assert "医疗发票" in raised.value.message
    assert "invoice" in raised.value.message

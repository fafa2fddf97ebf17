"""Facts proven by a device's history: wipes and images count only after the last custody change."""

from inventory.history import DISK_SANITIZED, IMAGE_VERIFIED, PastEvent, storage_facts

INTAKE = PastEvent("registered", "received", {"custody_change": True})
RETURN = PastEvent("return_end", "to_wipe", {"custody_change": True})


def wiped(disk: int, passed: bool = True) -> PastEvent:
    return PastEvent(DISK_SANITIZED, None, {"disk_id": disk, "passed": passed})


IMAGED = PastEvent(IMAGE_VERIFIED, None, {"verified": True})


def test_every_disk_must_pass_after_intake() -> None:
    assert storage_facts([INTAKE, wiped(1)], [1, 2]) == (False, False)
    assert storage_facts([INTAKE, wiped(1), wiped(2)], [1, 2]) == (True, False)
    assert storage_facts([INTAKE, wiped(1), wiped(2, passed=False)], [1, 2]) == (False, False)


def test_no_disk_recorded_proves_nothing() -> None:
    assert storage_facts([INTAKE, wiped(1), IMAGED], []) == (False, False)


def test_image_must_follow_the_wipe() -> None:
    assert storage_facts([INTAKE, IMAGED, wiped(1)], [1]) == (True, False)
    assert storage_facts([INTAKE, wiped(1), IMAGED], [1]) == (True, True)
    failed_image = PastEvent(IMAGE_VERIFIED, None, {"verified": False})
    assert storage_facts([INTAKE, wiped(1), failed_image], [1]) == (True, False)


def test_a_return_voids_earlier_wipes_and_images() -> None:
    assert storage_facts([INTAKE, wiped(1), IMAGED, RETURN], [1]) == (False, False)
    assert storage_facts([INTAKE, wiped(1), IMAGED, RETURN, wiped(1)], [1]) == (True, False)


def test_a_later_rewipe_needs_a_later_image() -> None:
    assert storage_facts([INTAKE, wiped(1), IMAGED, wiped(1)], [1]) == (True, False)

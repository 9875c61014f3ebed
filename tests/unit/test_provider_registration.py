"""A provider's registration (``POST /providers/register``): its queues' DNS-SD adverts must
point at the provider itself, so a provider's token (stolen with its box, say) cannot make
the zone send people's laptops to another host."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from printwarden.api.providers import ProviderRegisterIn


def _body(host: str = "print-1.example.org", port: int | None = 631) -> dict[str, Any]:
    advert = {"name": "Office", "uuid": "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "host": host,
              "ipp_port": port, "ipps_port": 8632, "txt": [["txtvers", "1"]]}  # fmt: skip
    return {
        "name": "library",
        "ipp_url": "ipp://Print-1.example.org:631/ipp/print",
        "queues": [{"name": "office", "kind": "direct", "printer": "laser", "dns_sd": advert}],
    }


def test_an_advert_of_the_providers_own_host_and_port_is_taken() -> None:
    registered = ProviderRegisterIn.model_validate(_body())
    assert registered.queues[0].dns_sd is not None


@pytest.mark.parametrize(
    ("host", "port", "named"),
    [("evil.example.net", 631, "host 'evil.example.net'"), ("print-1.example.org", 22, "22")],
)
def test_an_advert_pointing_elsewhere_is_refused(host: str, port: int, named: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ProviderRegisterIn.model_validate(_body(host, port))
    assert named in str(refused.value)
    assert "queue office" in str(refused.value)

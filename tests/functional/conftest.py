import pytest

from tests.functional import base


@pytest.fixture(scope='session', autouse=True)
def lab_is_up():
    """The lab must be up: `tox -e functional` runs `rescuer-lab up` first."""
    status = base.rescuer_lab('status', check=False)
    if status.returncode != 0:
        pytest.fail('the lab is not up; run `rescuer-lab up` first.\n%s%s'
                    % (status.stdout, status.stderr))


@pytest.fixture
def template(tmp_path):
    """Write a HOT template to a file; returns its path."""
    def write(text, name='template.yaml'):
        path = tmp_path / name
        path.write_text(text)
        return str(path)
    return write

"""Rendering on two cores: a year of nightly runs is most of a site build's time, and every
run page is independent of the others, so a forked process renders some of them while this
one renders the rest of the site. Where fork is missing, or the work is small, it all runs
here, in order."""

import os
import sys
import traceback
from collections.abc import Callable

from enginebench.errors import UserError

# below this many run pages a second process costs more than it saves
MIN_RUN_PAGES = 200


def can_split(run_pages: int) -> bool:
    return (run_pages >= MIN_RUN_PAGES and hasattr(os, "fork") and sys.platform == "linux"
            and (os.cpu_count() or 1) >= 2)


def run_split(forked: Callable[[], None], here: Callable[[], None]) -> None:
    """Run `forked` in a forked child and `here` in this process, and wait for both; a
    failure in either fails the build (the child's traceback goes to stderr)."""
    pid = os.fork()
    if pid == 0:  # the child: do its share and leave without running this process's exit
        code = 0
        try:
            forked()
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    try:
        here()
    finally:
        status = os.waitpid(pid, 0)[1]
    if os.waitstatus_to_exitcode(status) != 0:
        raise UserError("rendering the run pages failed in the second process (its "
                        "traceback is above)")

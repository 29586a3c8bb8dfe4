"""Demo mode: the bundled corpus and the demo accounts stated in the README."""

from __future__ import annotations

from sqlmodel import Session, func, select

from . import loader
from .config import Settings
from .db import make_engine
from .models import Need, Organization, Role, User
from .schemas import UserCreate
from .users import create_user


def prepare_demo(settings: Settings, users: list[tuple[str, str, Role, str | None]]) -> None:
    """Load the corpus into an empty database and create missing demo users."""
    if settings.environment == "production":
        raise RuntimeError("demo mode is not available in production")
    from corpus import load_corpus

    engine = make_engine(settings.sqlalchemy_url)
    try:
        with Session(engine) as session:
            if session.exec(select(func.count()).select_from(Need)).one() == 0:
                needs, orgs, _ = load_corpus()
                loader.import_organizations(session, orgs, user=None)
                loader.import_needs(session, needs, user=None)
            for username, password, role, belongs_to in users:
                if session.exec(select(User.id).where(User.username == username)).first() is None:
                    # a department user's 4th item is the department; a group's, its id (P001)
                    org = (
                        session.exec(
                            select(Organization).where(Organization.key == belongs_to)
                        ).first()
                        if role == Role.npo
                        else None
                    )
                    create_user(
                        session,
                        UserCreate(
                            username=username,
                            password=password,
                            role=role,
                            department=belongs_to if role == Role.department else None,
                            organization_id=org.id if org else None,
                        ),
                        by=None,
                    )
    finally:
        engine.dispose()

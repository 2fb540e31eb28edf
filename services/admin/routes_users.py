"""People and roles in the admin API: add a user (its API token is answered once), list them,
revoke one, and `whoami` for any caller."""

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ..common.http_app import AUTH_RESPONSES, DocumentedRoute, ErrorBody, Principal, UserAuth
from .users import UserError, Users

PASSWORD_MIN, PASSWORD_MAX = 12, 256
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$"
Role = Literal["viewer", "operator", "admin"]
UserName = Annotated[str, Path(pattern=NAME_PATTERN, description="The user's name.")]


class UserIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "sam@harbour.example", "role": "operator", "password": "correct horse battery"}]
        },
    )
    name: str = Field(
        pattern=NAME_PATTERN,
        description="A person's name or email: letters, digits and . _ @ + -, "
        "up to 100; unique (ignoring case) among live users.",
    )
    role: Role = Field(
        description="viewer reads everything; operator also force-syncs, runs cycles, replays and "
        "resolves exceptions; admin also changes organisations, credentials, mappings, "
        "settings and users."
    )
    # Its length is checked by the route, not by pydantic, whose error would echo the password back.
    password: SecretStr | None = Field(
        None,
        json_schema_extra={"minLength": PASSWORD_MIN, "maxLength": PASSWORD_MAX},
        description=(
            f"For the console's sign-in with name and password ({PASSWORD_MIN} to {PASSWORD_MAX} characters); kept "
            "only "
            "as its argon2id hash. Without one, the user signs in with its token."
        ),
    )


class UserOut(BaseModel):
    name: str
    role: Role
    has_password: bool = Field(description="Whether the user can sign in to the console with a password.")
    created_by: str
    created_at: datetime


class NewUser(UserOut):
    token: str = Field(
        description="The user's API token (`Authorization: Bearer <token>`): shown this once, "
        "never again; revoke the user to withdraw it."
    )


class WhoAmI(BaseModel):
    name: str = Field(description="The user the token belongs to (`admin` for the installation's admin token).")
    role: Role


def _refused(exc: UserError) -> HTTPException:
    if exc.status == 422:
        return HTTPException(422, detail=[{"loc": ["body", exc.field], "msg": str(exc), "type": "value_error"}])
    return HTTPException(exc.status, detail=str(exc))


def users_router(users: Users, auth: UserAuth) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["users"], responses=AUTH_RESPONSES, route_class=DocumentedRoute)
    Admin = Annotated[Principal, Depends(auth.admin)]

    @router.get("/whoami", response_model=WhoAmI, summary="The user and role of this token")
    def whoami(who: Annotated[Principal, Depends(auth.viewer)]) -> WhoAmI:
        return WhoAmI(name=who.name, role=who.role)

    @router.post(
        "/users",
        status_code=201,
        response_model=NewUser,
        responses={409: {"model": ErrorBody, "description": "A live user has that name"}},
        summary="Add a user; the answer holds its API token, shown this once",
    )
    def add_user(body: UserIn, who: Admin) -> NewUser:
        password = body.password.get_secret_value() if body.password is not None else None
        try:
            if password is not None and not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
                raise UserError("password", f"{PASSWORD_MIN} to {PASSWORD_MAX} characters, not {len(password)}")
            user, token = users.add(body.name, body.role, password, who.name)
        except UserError as exc:
            raise _refused(exc) from None
        return NewUser(**user.as_json(), token=token)

    @router.get("/users", response_model=list[UserOut], summary="Live users and their roles (never a secret)")
    def list_users(_who: Admin) -> list[UserOut]:
        return [UserOut(**u.as_json()) for u in users.list()]

    @router.delete(
        "/users/{name}",
        status_code=204,
        response_class=Response,
        responses={404: {"model": ErrorBody, "description": "No live user has that name"}},
        summary="Revoke a user: its token and password stop working and its console sessions end",
    )
    def revoke_user(name: UserName, who: Admin) -> Response:
        try:
            users.revoke(name, who.name)
        except UserError as exc:
            raise _refused(exc) from None
        return Response(status_code=204)

    return router

"""The route × role grid: every endpoint, every kind of visitor, the status each one gets.

EXPECTED lists every endpoint in the URL map. A new endpoint that nobody put here fails
``test_every_endpoint_is_in_the_grid``; each cell is then a real request by a real,
signed-in user of that role (or nobody), parametrized so a failure names both.

GET routes are fetched; POST-only routes are posted with a valid CSRF token (taken from
a page the visitor can load), so what answers is the guard, not the CSRF check.

Classification of Flask-Security's endpoints, for our configuration (TOTP required, no
mail, no WebAuthn):
- /login: the form for nobody; a signed-in user is sent on (302).
- /logout: POST only; everyone ends up at /login (302).
- /tf-validate, /tf-setup: public, because they are steps of signing in; without that
  state in the session they send the visitor to /login. /tf-setup lets a signed-in user
  replace their authenticator (200; it asks for a fresh sign-in when needed), and
  /tf-setup/<token> finishes that (a bad token goes back to /tf-setup, 302).
  A signed-in GET of /tf-validate is treated by Flask-Security as an illegal state: it
  signs the user out and redirects (302).
- /verify: re-authentication for a fresh session, which /tf-setup asks for: signed-in 200.
- /account/password: everyone signed in may change their own password (200).
- /tf-rescue, /tf-select, /fs-static/…: unreachable (404 for all, core.guards
  UNREACHABLE_ENDPOINTS). /tf-rescue would mail a "help" request to an unconfigured
  address; /tf-select chooses among several second factors and we have one;
  /fs-static serves WebAuthn scripts we do not use.

Other classifications worth knowing: the JSON API (``*_api``) answers 401 to everyone
here, because it takes bearer tokens only and ignores the session cookie; the portal's
registration page is public and, as written, also shows to signed-in users (200).
"""

from __future__ import annotations

import io
import itertools
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from flask import url_for

from referrals.core.identity import Identity, system_identity
from referrals.directory.models import DirectoryEntry
from referrals.tokens.services import create_token
from tests import factories
from tests.conftest import Client, SignIn, csrf_from

ANON, AGENT, SUPER, COMPL, ADMIN, OFFICER = (
    "anonymous", "agent", "supervisor", "compliance", "admin", "officer")
ROLES = (ANON, AGENT, SUPER, COMPL, ADMIN, OFFICER)
SYSTEM = system_identity("test:route grid samples")

# endpoint → {visitor: status}
EXPECTED: dict[str, dict[str, int]] = {
    # public
    "static":                               {ANON: 200, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 200, OFFICER: 200},
    "health":                               {ANON: 200, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 200, OFFICER: 200},
    "ready":                                {ANON: 200, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 200, OFFICER: 200},
    # off without REFERRALS_METRICS_TOKEN; with one, only its bearer (tests/operations)
    "metrics":                              {ANON: 404, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 404},
    "api-docs.openapi_json":                {ANON: 200, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 200, OFFICER: 200},
    "home":                                 {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 302, ADMIN: 302, OFFICER: 302},
    # sign-in and account (Flask-Security)
    "security.login":                       {ANON: 200, AGENT: 302, SUPER: 302, COMPL: 302, ADMIN: 302, OFFICER: 302},
    "security.logout":                      {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 302, ADMIN: 302, OFFICER: 302},
    "security.change_password":             {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 200, OFFICER: 200},
    "security.verify":                      {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 200, OFFICER: 200},
    "security.two_factor_setup":            {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 200, OFFICER: 200},
    "security.two_factor_setup_validate":   {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 302, ADMIN: 302, OFFICER: 302},
    "security.two_factor_token_validation": {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 302, ADMIN: 302, OFFICER: 302},
    "security.two_factor_rescue":           {ANON: 404, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 404},
    "security.tf_select":                   {ANON: 404, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 404},
    "security.static":                      {ANON: 404, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 404},
    # staff pages
    "dashboard.index":                      {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 200, OFFICER: 404},
    "dashboard.work_json":                  {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 200, OFFICER: 404},
    # the deadline rules with their sources: any staff member may read them
    "dashboard.deadline_rules":             {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 200, OFFICER: 404},
    "audit.index":                          {ANON: 302, AGENT: 403, SUPER: 403, COMPL: 200, ADMIN: 403, OFFICER: 404},
    # the audit log is compliance's alone: an event, exports, verifying the chain (a job; it
    # changes nothing but its own progress) and its progress
    "audit.event":                          {ANON: 302, AGENT: 403, SUPER: 403, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "audit.export":                         {ANON: 302, AGENT: 403, SUPER: 403, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "audit.verify":                         {ANON: 302, AGENT: 403, SUPER: 403, COMPL: 302, ADMIN: 403, OFFICER: 404},
    "audit.verify_progress":                {ANON: 302, AGENT: 403, SUPER: 403, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "accounts.index":                       {ANON: 302, AGENT: 403, SUPER: 403, COMPL: 403, ADMIN: 200, OFFICER: 404},
    "accounts.create":                      {ANON: 302, AGENT: 403, SUPER: 403, COMPL: 403, ADMIN: 200, OFFICER: 404},
    "accounts.detail":                      {ANON: 302, AGENT: 403, SUPER: 403, COMPL: 403, ADMIN: 200, OFFICER: 404},
    "accounts.unlock":                      {ANON: 302, AGENT: 403, SUPER: 403, COMPL: 403, ADMIN: 302, OFFICER: 404},
    "accounts.disable":                     {ANON: 302, AGENT: 403, SUPER: 403, COMPL: 403, ADMIN: 302, OFFICER: 404},
    "accounts.enable":                      {ANON: 302, AGENT: 403, SUPER: 403, COMPL: 403, ADMIN: 302, OFFICER: 404},
    "accounts.reset_password":              {ANON: 302, AGENT: 403, SUPER: 403, COMPL: 403, ADMIN: 200, OFFICER: 404},
    "accounts.reset_two_factor":            {ANON: 302, AGENT: 403, SUPER: 403, COMPL: 403, ADMIN: 302, OFFICER: 404},
    "tokens.index":                         {ANON: 302, AGENT: 403, SUPER: 403, COMPL: 403, ADMIN: 200, OFFICER: 404},
    "tokens.create":                        {ANON: 302, AGENT: 403, SUPER: 403, COMPL: 403, ADMIN: 200, OFFICER: 404},
    "tokens.revoke":                        {ANON: 302, AGENT: 403, SUPER: 403, COMPL: 403, ADMIN: 302, OFFICER: 404},
    # cases: read by agents, supervisors and compliance; worked by agents and supervisors
    "cases.index":                          {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "cases.detail":                         {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "cases.create":                         {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "cases.take":                           {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "cases.assign":                         {ANON: 302, AGENT: 403, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "cases.status":                         {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "cases.note":                           {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "cases.due":                            {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "cases.add_subject":                    {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "cases.add_identifier":                 {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    # corrections, with a reason (the grid posts none: refused with a flash, back to the case)
    "cases.correct_identifier":             {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "cases.correct_subject":                {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "evidence.upload":                      {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "evidence.item":                        {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "evidence.content":                     {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    # media that may be abuse material, by its bytes: anyone who works evidence flags; only a
    # supervisor unflags (and only a cleared one: refused with a flash otherwise)
    "evidence.flag":                        {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "evidence.unflag":                      {ANON: 302, AGENT: 403, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    # one search across cases, requests and holds: read like them
    "search.index":                         {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    # agencies: managed by admins and supervisors
    "agencies.index":                       {ANON: 302, AGENT: 403, SUPER: 200, COMPL: 403, ADMIN: 200, OFFICER: 404},
    "agencies.create":                      {ANON: 302, AGENT: 403, SUPER: 200, COMPL: 403, ADMIN: 200, OFFICER: 404},
    "agencies.detail":                      {ANON: 302, AGENT: 403, SUPER: 200, COMPL: 403, ADMIN: 200, OFFICER: 404},
    "agencies.add_key":                     {ANON: 302, AGENT: 403, SUPER: 302, COMPL: 403, ADMIN: 302, OFFICER: 404},
    "agencies.remove_key":                  {ANON: 302, AGENT: 403, SUPER: 302, COMPL: 403, ADMIN: 302, OFFICER: 404},
    "officers.approve":                     {ANON: 302, AGENT: 403, SUPER: 302, COMPL: 403, ADMIN: 302, OFFICER: 404},
    "officers.lift":                        {ANON: 302, AGENT: 403, SUPER: 302, COMPL: 403, ADMIN: 302, OFFICER: 404},
    # the agency directory: every staff role reads it; managers link entries and keep the
    # official list (a made-up entry is not found)
    "directory.index":                      {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 200, OFFICER: 404},
    "directory.entry":                      {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 200, OFFICER: 404},
    "directory.link":                       {ANON: 302, AGENT: 403, SUPER: 302, COMPL: 403, ADMIN: 302, OFFICER: 404},
    "directory.official":                   {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 200, OFFICER: 404},
    "directory.add_official":               {ANON: 302, AGENT: 403, SUPER: 422, COMPL: 403, ADMIN: 422, OFFICER: 404},
    "directory.remove_official":            {ANON: 302, AGENT: 403, SUPER: 302, COMPL: 403, ADMIN: 302, OFFICER: 404},
    # disclosure requests, staff side: read like cases; supervisors approve and disclose
    "requests.index":                       {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "requests.detail":                      {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    # the sample request is received: no letter answers it yet (409, in plain words)
    "requests.letter":                      {ANON: 302, AGENT: 409, SUPER: 409, COMPL: 409, ADMIN: 403, OFFICER: 404},
    "requests.document":                    {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "requests.take":                        {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "requests.move":                        {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "requests.decide":                      {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "requests.callback":                    {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "requests.message":                     {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "requests.notice_done":                 {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "requests.approve":                     {ANON: 302, AGENT: 403, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    # supervisors assign; a message goes to the agency only from its preview (send); canned
    # texts are read by those who work requests and written by supervisors
    "requests.assign":                      {ANON: 302, AGENT: 403, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "requests.send_message":                {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "canned_texts.index":                   {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "canned_texts.create":                  {ANON: 302, AGENT: 403, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "canned_texts.update":                  {ANON: 302, AGENT: 403, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    # the request's clock (Annex III stop and restart) and the NDO legal-review queue
    "requests.nondisclosure_reviews":       {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "requests.stop_clock":                  {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "requests.restart_clock":               {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "requests.review_nondisclosure":        {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    # collecting from the platform: worked like the request (the sample is not collecting, so
    # the refusal is a flash); what was collected is read by staff only, officers never
    "requests.collect":                     {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "requests.collected_item":              {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    # how far a collection got (JSON the page polls): read like the request, staff only
    "requests.collection_progress":         {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    # the emergency fast path (the sample is an emergency request): read like the request,
    # worked by agents and supervisors, approved and released by supervisors
    "emergency.fast_path":                  {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "emergency.state":                      {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "emergency.callback":                   {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "emergency.decisions":                  {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "emergency.collect":                    {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "emergency.approve":                    {ANON: 302, AGENT: 403, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "emergency.release":                    {ANON: 302, AGENT: 403, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    # evidence packages, staff side: releasing a production (which builds its package) is a
    # supervisor's; build progress is read like the request; re-issuing, building a case's
    # package, taking a file or a case package's one-time key out is work (the sample is a
    # production: its key is refused with a flash, the officer's alone)
    "packages.release":                     {ANON: 302, AGENT: 403, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "packages.progress":                    {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "packages.reissue":                     {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "packages.download":                    {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "packages.key":                         {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "packages.build_for_case":              {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    # packages in the portal: the officers of the request only (the sample is the officer's
    # own, ready); the help page for every officer; the key of a package encrypted to the
    # agency's keys is refused with a flash
    "portal_packages.download":             {ANON: 302, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 200},
    "portal_packages.checksum":             {ANON: 302, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 200},
    "portal_packages.key":                  {ANON: 302, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 302},
    "portal_packages.help_page":            {ANON: 302, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 200},
    # referrals delivered to an agency through the portal: its officers only; the sample
    # referral is not one delivered to the visiting officer's agency, so it is not found
    "portal_referrals.index":               {ANON: 302, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 200},
    "portal_referrals.detail":              {ANON: 302, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 404},
    "portal_referrals.download":            {ANON: 302, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 404},
    "portal_referrals.checksum":            {ANON: 302, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 404},
    "portal_referrals.key":                 {ANON: 302, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 404},
    "portal_referrals.acknowledge":         {ANON: 302, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 404},
    # agency portal: officers only (the request is the officer's own); staff get 404
    "portal.index":                         {ANON: 302, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 200},
    "portal.new_request":                   {ANON: 302, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 200},
    "portal.new_emergency":                 {ANON: 302, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 200},
    "portal.detail":                        {ANON: 302, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 200},
    "portal.post_message":                  {ANON: 302, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 302},
    "portal.add_colleague":                 {ANON: 302, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 302},
    "portal.withdraw":                      {ANON: 302, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 302},
    # an officer's follow-up: further documents, the answer to "needs information" (the
    # sample is received: the answer is refused with a flash)
    "portal.add_documents":                 {ANON: 302, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 302},
    "portal.answer":                        {ANON: 302, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 302},
    # the zone the officer reads times in (the grid posts no zone: refused with a flash)
    "portal.time_zone":                     {ANON: 302, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 302},
    "portal.tokens":                        {ANON: 302, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 200},
    # portal registration is public; a made-up confirmation token is "not found"
    "portal_public.register":               {ANON: 200, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 200, OFFICER: 200},
    "portal_public.confirm":                {ANON: 404, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 404},
    "portal_public.reconfirm":              {ANON: 404, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 404},
    # preservation holds: read by agents, supervisors and compliance; worked by agents and
    # supervisors; ended early (release, conversion) by supervisors only
    "holds.index":                          {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "holds.detail":                         {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "holds.item":                           {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "holds.place":                          {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "holds.renew":                          {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "holds.extend":                         {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "holds.confirm_production":             {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "holds.review":                         {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "holds.snapshot":                       {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "holds.convert":                        {ANON: 302, AGENT: 403, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "holds.release":                        {ANON: 302, AGENT: 403, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    # hold reports: read like requests (the letter, the expiring list and its CSV)
    "hold_reports.expiring":                {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "hold_reports.expiring_csv":            {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "hold_reports.letter":                  {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    # the letter in the portal: officers, for a hold on their own request
    "portal_holds.letter":                  {ANON: 302, AGENT: 404, SUPER: 404, COMPL: 404, ADMIN: 404, OFFICER: 200},
    # compliance review (issue 15): the transparency report, read by compliance and supervisors
    "compliance.transparency":              {ANON: 302, AGENT: 403, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "compliance.transparency_pdf":          {ANON: 302, AGENT: 403, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "compliance.transparency_csv":          {ANON: 302, AGENT: 403, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    # the disclosure log: read and exported by compliance and supervisors (a view is audited)
    "compliance.disclosure_log_page":       {ANON: 302, AGENT: 403, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "compliance.disclosure":                {ANON: 302, AGENT: 403, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "compliance.disclosures_csv":           {ANON: 302, AGENT: 403, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "compliance.disclosures_json":          {ANON: 302, AGENT: 403, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    # QA sampling: compliance draws, reviews and records findings (the only things a compliance
    # reviewer changes anywhere); supervisors assign and close; the assignee or a supervisor
    # responds; agents read findings to answer the ones assigned to them. The grid posts empty
    # forms: 422 (what is missing, in words) wherever the role may act
    "qa.index":                             {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "qa.draw":                              {ANON: 302, AGENT: 403, SUPER: 403, COMPL: 302, ADMIN: 403, OFFICER: 404},
    "qa.draw_detail":                       {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "qa.sample":                            {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "qa.record_finding":                    {ANON: 302, AGENT: 403, SUPER: 403, COMPL: 422, ADMIN: 403, OFFICER: 404},
    "qa.mark_reviewed":                     {ANON: 302, AGENT: 403, SUPER: 403, COMPL: 302, ADMIN: 403, OFFICER: 404},
    "qa.finding":                           {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "qa.assign_finding":                    {ANON: 302, AGENT: 403, SUPER: 422, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "qa.respond_finding":                   {ANON: 302, AGENT: 422, SUPER: 422, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "qa.close_finding":                     {ANON: 302, AGENT: 403, SUPER: 422, COMPL: 403, ADMIN: 403, OFFICER: 404},
    # the supervisor and compliance dashboard
    "oversight.index":                      {ANON: 302, AGENT: 403, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    # JSON API: bearer tokens only, so a browser session (or none) is 401 everywhere
    "audit_api.events":                     {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "audit_api.event":                      {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "audit_api.export":                     {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "audit_api.integrity":                  {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "audit_api.start":                      {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "cases_api.get_case":                   {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "escalations_api.post_escalation":      {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "evidence_api.download":                {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "evidence_api.upload":                  {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "holds_api.index":                      {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "holds_api.detail":                     {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "requests_api.index":                   {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "requests_api.detail":                  {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "requests_api.create":                  {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "requests_api.post_message":            {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "requests_api.withdraw":                {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    # NCMEC CyberTipline reports on a case (ncmec.staff_views): POSTs come back to the page
    "ncmec.index":                          {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "ncmec.detail":                         {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "ncmec.progress":                       {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "ncmec.draft":                          {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "ncmec.confirm":                        {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "ncmec.submit":                         {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "ncmec.retract":                        {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    # Referrals from a case (outbound.staff_views): POSTs come back to the referral's page
    "outbound.new":                         {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "outbound.detail":                      {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "outbound.report_pdf":                  {ANON: 302, AGENT: 200, SUPER: 200, COMPL: 200, ADMIN: 403, OFFICER: 404},
    "outbound.submit":                      {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "outbound.send_back":                   {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "outbound.approve":                     {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "outbound.send":                        {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "outbound.acknowledge":                 {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    "outbound.withdraw":                    {ANON: 302, AGENT: 302, SUPER: 302, COMPL: 403, ADMIN: 403, OFFICER: 404},
    # the CyberTipline sandbox (development and tests only): HTTP Basic, like NCMEC
    "ncmec_sandbox.status":                 {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "ncmec_sandbox.xsd":                    {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "ncmec_sandbox.submit":                 {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "ncmec_sandbox.upload":                 {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "ncmec_sandbox.fileinfo":               {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "ncmec_sandbox.finish":                 {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "ncmec_sandbox.retract":                {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "packages_api.index":                   {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "packages_api.download":                {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "packages_api.checksum":                {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "compliance_api.disclosures":           {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "compliance_api.disclosure":            {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "compliance_api.transparency":          {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "packages_api.take_key":                {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "referrals_api.index":                  {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "referrals_api.detail":                 {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "referrals_api.download":               {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "referrals_api.checksum":               {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "referrals_api.take_key":               {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
    "referrals_api.acknowledge":            {ANON: 401, AGENT: 401, SUPER: 401, COMPL: 401, ADMIN: 401, OFFICER: 401},
}


# --- sample values for URL parameters -----------------------------------------------


class Samples:
    """Objects a URL can point at, made on first use inside the test's transaction.

    ``visitor`` is the signed-in user (None for anonymous): an officer's portal URLs point
    at a request that officer submitted, so the portal answers as it would for them.
    """

    def __init__(self, endpoint: str, visitor=None):
        self.endpoint = endpoint
        self.blueprint = endpoint.partition(".")[0]
        self.visitor = visitor
        self._made: dict[str, object] = {}

    def _once(self, key: str, make):
        if key not in self._made:
            self._made[key] = make()
        return self._made[key]

    def user_id(self):
        if self.endpoint == "officers.approve":  # an officer waiting for approval
            return self._once("pending", lambda: factories.make_user("officer", approved_at=None)).id
        return self._once("user", lambda: factories.make_user("agent")).id

    # cases and evidence

    def _case(self):
        from referrals.cases.services import open_case

        return self._once("case", lambda: open_case(
            SYSTEM, title="Grid sample case", category="other", check=False))

    def subject_id(self):
        from referrals.cases.services import add_subject

        return self._once("subject", lambda: add_subject(
            SYSTEM, self._case(), label="grid-sample-account", check=False)).id

    def identifier_id(self):
        from referrals.cases.services import add_identifier, add_subject

        return self._once("identifier", lambda: add_identifier(
            SYSTEM, add_subject(SYSTEM, self._case(), label="grid-sample-subject", check=False),
            kind="username", value="grid_sample_user", check=False)).id

    def item_id(self):
        from referrals.evidence.services import add_evidence

        if self.blueprint in {"holds", "holds_api"}:  # an item of the sample hold's snapshot
            from referrals.holds.snapshot import take_snapshot

            return self._once("snapshot_item", lambda: take_snapshot(SYSTEM, self._hold())[0]).id

        if self.blueprint == "requests":  # an item collected for the sample request
            from referrals.evidence.services import add_collected_evidence

            return self._once("collected_item", lambda: add_collected_evidence(
                SYSTEM, io.BytesIO(b'{"synthetic": "grid collection"}\n'), request=self._request(),
                original_name="subscriber-username-grid_sample_user.json",
                source_system="demo-platform", data_category="subscriber",
                purpose="Grid sample")).id

        def make():
            uploader = Identity.for_user(factories.make_user("agent"))
            return add_evidence(uploader, self._case(), io.BytesIO(b"synthetic grid evidence\n"),
                                original_name="grid-sample.txt")

        return self._once("item", make).id

    def token_id(self):

        return self._once("token", lambda: create_token(
            SYSTEM, factories.make_user("agent"), scopes=["cases:read"], name="grid sample")[0]).id

    # agencies

    def _agency(self):
        return self._once("agency", factories.AgencyFactory)

    def agency_id(self):
        return self._agency().id

    def key_id(self):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from referrals.agencies.services import add_key

        public = Ed25519PrivateKey.generate().public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
        return self._once("key", lambda: add_key(SYSTEM, self._agency(), public, "grid sample")).id

    # disclosure requests

    def _request(self):
        from pypdf import PdfWriter

        from referrals.core.clock import now
        from referrals.requests.intake import submit_request

        def make():
            officer = self.visitor if getattr(self.visitor, "kind", None) == "agency" \
                else factories.make_user("officer")
            pdf = io.BytesIO()
            writer = PdfWriter()
            writer.add_blank_page(width=612, height=792)
            writer.write(pdf)
            pdf.seek(0)
            today = now().date()
            data = {
                "request_type": "search_warrant", "addressed_to": "us",
                "data_categories": ["subscriber"],
                "date_from": today - timedelta(days=30), "date_to": today - timedelta(days=1),
                "targets": [{"kind": "username", "value": "grid_sample_user"}],
                "legal_basis": "18 U.S.C. 2703(a) (synthetic)",
                "issuing_authority": "Synthetic County Superior Court",
                "user_notice_allowed": True,
            }
            if self.blueprint == "emergency":  # the fast path is for emergencies only
                data |= {"request_type": "emergency", "emergency_description": "Synthetic",
                         "person_at_risk": "Synthetic", "why_data_helps": "Synthetic",
                         "good_faith_attested": True}
            return submit_request(Identity.for_user(officer), data, [("warrant.pdf", pdf)])

        return self._once("request", make)

    def document_id(self):
        return self._request().documents[0].id

    def task_id(self):
        from sqlalchemy import select

        from referrals.extensions import db
        from referrals.requests.models import UserNoticeTask

        request = self._request()
        return db.session.scalar(select(UserNoticeTask.id)
                                 .where(UserNoticeTask.request_id == request.id))

    def _letter_hold(self):
        """A 2703(f) hold on the sample request (the visitor's own, for an officer)."""
        from referrals.core.clock import now
        from referrals.extensions import db
        from referrals.holds.models import PreservationHold

        def make():
            request = self._request()
            moment = now()
            hold = PreservationHold(
                reference="HOLD-2026-990001", kind="us_2703f", status="active",
                request_id=request.id, agency_id=request.agency_id,
                data_categories=["subscriber"], starts_at=moment,
                expires_at=moment + timedelta(days=90), placed_by_label="route grid",
                placed_at=moment, updated_at=moment)
            db.session.add(hold)
            db.session.flush()
            return hold

        return self._once("letter_hold", make)

    # preservation holds

    def _hold(self):
        """An internal hold on the sample case, one account in scope."""
        from referrals.holds.services import place_internal_hold

        return self._once("hold", lambda: place_internal_hold(
            SYSTEM, self._case(), [("username", "grid_sample_account")], ["subscriber"],
            None, None, "Route grid sample hold"))

    def case_reference(self):
        return self._case().reference

    def _ncmec_case(self):
        from referrals.cases.services import open_case

        return self._once("ncmec_case", lambda: open_case(
            SYSTEM, title="Grid sample CyberTipline case", category="grooming", check=False))

    def report_id(self):
        from referrals.ncmec.services import draft_report

        drafter = Identity.for_user(factories.make_user("agent"))
        return self._once("ncmec_report", lambda: draft_report(drafter, self._ncmec_case())).id

    # evidence packages

    def package_id(self):
        """A ready production package of the sample request, with a (synthetic) file."""
        from referrals.core.clock import now
        from referrals.extensions import db
        from referrals.packages.models import EvidencePackage
        from referrals.packages.services import package_path

        def make():
            request = self._request()
            at = now()
            package = EvidencePackage(
                request_id=request.id, purpose="production", label=f"{request.reference}-P1",
                recipients=["age1synthetic"], recipient_kind="agency", status="ready",
                failure="", items=[], expires_at=at + timedelta(days=7), download_limit=5,
                downloads_used=0, created_at=at, ready_at=at, sha256="0" * 64, size=5)
            db.session.add(package)
            db.session.flush()
            path = package_path(package)
            path.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("", ".sha256", ".sha256.sig"):
                path.with_name(path.name + suffix).write_bytes(b"grid\n")
            return package

        return self._once("package", make).id

    def which(self):
        return "sha256"

    def text_id(self):
        from sqlalchemy import select

        from referrals.extensions import db
        from referrals.requests.models import CannedText

        return db.session.scalars(select(CannedText.id).order_by(CannedText.id)).first()

    # the audit log

    def seq(self):
        from referrals.audit.services import record_event

        return self._once("audit_event", lambda: record_event(SYSTEM, "grid.sample")).seq

    def fmt(self):
        return "csv"
    # the agency directory

    def entry_id(self):
        from referrals.extensions import db

        def make():
            entry = DirectoryEntry(domain="grid-sample-city.gov", domain_type="City",
                                   organization="Grid Sample City", suborganization="",
                                   city="Sample", state="CA")
            db.session.add(entry)
            db.session.flush()
            return entry

        return self._once("entry", make).id

    def official_id(self):
        from referrals.directory.services import add_official_domain

        return self._once("official", lambda: add_official_domain(
            SYSTEM, domain="grid-sample.police.uk", organization="Grid Sample Police",
            country="GB", method="government_website",
            evidence="Listed on the force's own website (grid sample)")).id

    # referrals from a case

    def referral_id(self):
        from referrals.agencies.models import Agency
        from referrals.extensions import db
        from referrals.outbound.services import draft_referral

        def make():
            agency = Agency(name="Grid Sample Police", kind="law_enforcement", country="GB",
                            status="verified")
            db.session.add(agency)
            db.session.flush()
            drafter = Identity.for_user(factories.make_user("agent"))
            return draft_referral(drafter, self._case(), agency_id=agency.id,
                                  reason="Grid sample", incident_type="other",
                                  summary="Grid sample summary", legal_basis="us_2702b8")

        return self._once("referral", make).id

    # compliance review

    def period(self):
        return "2026-H2"

    def table(self):
        return "requests_by_country"

    def _disclosure(self):
        from referrals.core.clock import now
        from referrals.disclosures.models import Disclosure
        from referrals.extensions import db

        def make():
            agency = self._agency()
            approver = factories.make_user("supervisor")
            disclosure = Disclosure(
                kind="production", agency_id=agency.id, recipient_name=agency.name,
                recipient_country=agency.country, legal_basis="Grid sample legal basis",
                approved_by_id=approver.id, disclosed_by_id=approver.id,
                disclosed_at=now() - timedelta(hours=1))
            db.session.add(disclosure)
            db.session.flush()
            return disclosure

        return self._once("disclosure", make)

    def disclosure_id(self):
        return self._disclosure().id

    def _qa_draw(self):
        from referrals.disclosures.qa import draw_sample

        self._disclosure()
        return self._once("qa_draw", lambda: draw_sample(SYSTEM, "1", seed="grid"))

    def draw_id(self):
        return self._qa_draw().id

    def sample_id(self):
        return self._qa_draw().samples[0].id

    def finding_id(self):
        from referrals.disclosures.qa import record_finding

        def make():
            reviewer = Identity.for_user(factories.make_user("compliance"))
            return record_finding(reviewer, self._qa_draw().samples[0], "other", "Grid sample")

        return self._once("qa_finding", make).id

    def reference(self):
        if self.blueprint in {"holds", "holds_api"}:
            return self._hold().reference
        if self.blueprint in {"hold_reports", "portal_holds"}:
            return self._letter_hold().reference
        if self.blueprint in {"cases", "evidence", "cases_api", "evidence_api", "outbound"}:
            return self._case().reference
        if self.endpoint == "packages.build_for_case":
            return self._case().reference
        if self.blueprint in {"requests", "portal", "requests_api", "packages", "portal_packages",
                              "packages_api", "emergency"}:
            return self._request().reference
        if self.blueprint == "ncmec":
            return self._ncmec_case().reference
        if self.blueprint in {"portal_referrals", "referrals_api"}:
            return f"RFL-{self.referral_id():06d}"
        raise AssertionError(f"{self.endpoint}: which kind of <reference>? add it to Samples")

    def values(self, arguments: set[str]) -> dict:
        special = {
            "static": {"filename": "app.css"},
            "security.static": {"filename": "js/webauthn.js"},  # exists in Flask-Security
            "security.two_factor_setup_validate": {"token": "not-a-real-setup-token"},
            "portal_public.confirm": {"token": "not-a-real-confirmation-token"},
            "portal_public.reconfirm": {"token": "not-a-real-confirmation-token"},
        }
        values = dict(special.get(self.endpoint, {}))
        for name in arguments - set(values):
            make = getattr(self, name, None)
            assert make is not None, f"{self.endpoint}: no sample value for <{name}>; add one to Samples"
            values[name] = make()
        return values


# --- requests ---------------------------------------------------------------------------


_HASHES: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _one_password_hash(monkeypatch):
    """Every user here has the same password; hash it once (argon2 is slow on purpose).
    Signing in still verifies it for real."""
    from flask_security import hash_password

    def cached(password: str) -> str:
        if password not in _HASHES:
            _HASHES[password] = hash_password(password)
        return _HASHES[password]

    monkeypatch.setattr(factories, "hash_password", cached)


def _rules(app) -> dict[str, object]:
    rules = {}
    for rule in app.url_map.iter_rules():
        assert rule.endpoint not in rules, f"{rule.endpoint} has two rules; give each a grid row"
        rules[rule.endpoint] = rule
    return rules


_addresses = itertools.count(1)


def _client(app) -> Client:
    app.test_client_class = Client
    client = app.test_client()
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    # Each visitor is its own client machine, so the grid's few hundred sign-ins never add
    # up against the per-address sign-in rate limit.
    n = next(_addresses)
    client.environ_base["REMOTE_ADDR"] = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
    return client


def _visitor(app, role: str) -> tuple[Client, object]:
    client = _client(app)
    user = None
    if role != ANON:
        user = factories.make_user(role)
        SignIn(client)(user)
    return client, user


def _csrf_token(client: Client, role: str) -> str:
    page = client.get("/login" if role == ANON else "/account/password")
    assert page.status_code == 200, f"{role} cannot load a page to take a CSRF token from"
    return csrf_from(page.text)


CELLS = [(endpoint, role) for endpoint in sorted(EXPECTED) for role in ROLES]


def test_every_endpoint_is_in_the_grid(app):
    endpoints = set(_rules(app))
    unclassified = endpoints - set(EXPECTED)
    gone = set(EXPECTED) - endpoints
    assert not unclassified, f"endpoints nobody classified in EXPECTED: {sorted(unclassified)}"
    assert not gone, f"EXPECTED lists endpoints that no longer exist: {sorted(gone)}"
    for endpoint, row in EXPECTED.items():
        assert set(row) == set(ROLES), f"{endpoint}: a status for each of {ROLES}"


@pytest.mark.parametrize(("endpoint", "role"), CELLS, ids=[f"{e}-{r}" for e, r in CELLS])
def test_route_grid(app, endpoint, role):
    rules = _rules(app)
    assert endpoint in rules, f"{endpoint} is in EXPECTED but not in the URL map"
    rule = rules[endpoint]
    client, user = _visitor(app, role)
    with app.test_request_context():
        path = url_for(endpoint, **Samples(endpoint, user).values(set(rule.arguments)))
    if "GET" in rule.methods:
        response = client.get(path)
    else:
        assert rule.methods >= {"POST"}, f"{endpoint}: neither GET nor POST"
        response = client.post(path, data={"csrf_token": _csrf_token(client, role)})

    expected = EXPECTED[endpoint][role]
    assert response.status_code == expected, (
        f"{rule.methods - {'HEAD', 'OPTIONS'}} {path} as {role}: "
        f"{response.status_code}, expected {expected}"
        + (f" → {response.headers.get('Location')}" if response.status_code == 302 else "")
    )
    if role == ANON and expected == 302:
        assert urlsplit(response.headers["Location"]).path == "/login", (
            f"{path} sends an anonymous visitor to {response.headers['Location']}, not /login")


@pytest.mark.parametrize(
    ("role", "target"),
    [(AGENT, "/dashboard"), (SUPER, "/dashboard"), (COMPL, "/dashboard"), (ADMIN, "/dashboard"),
     (OFFICER, "/portal/")],
)
def test_home_sends_each_role_to_its_side(app, role, target):
    response = _visitor(app, role)[0].get("/")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == target


def test_signed_in_users_are_sent_on_from_login(app):
    response = _visitor(app, AGENT)[0].get("/login")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/"

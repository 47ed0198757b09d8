"""Appointments: places and slots, invitations to book, convocations, reminders, attendance."""
